import {expect} from 'chai'
import {anatomyVector, anatomyVectorLength, channelShapes} from '../../src/stages/visual/anatomy-descriptors.js'

const S = 96

/** Label 1 inside `inside(x, y)` (pixel centres relative to the image centre), 0 elsewhere. */
function draw(inside: (x: number, y: number) => boolean): Int32Array {
  const out = new Int32Array(S * S)
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) out[y * S + x] = inside(x - S / 2 + 0.5, y - S / 2 + 0.5) ? 1 : 0
  return out
}

const area = (m: Int32Array) => m.reduce((a, v) => a + v, 0)

describe('anatomy descriptors (occupancy + shape per channel)', () => {
  it('a disk: compactness near the digital-disk value pi^2/16, elongation ~0', () => {
    const disk = draw((x, y) => x * x + y * y <= 20 * 20)
    const [, lesion] = channelShapes(disk, S, S, 3)
    // a staircase boundary of a radius-r disk has 4-neighbour perimeter ~8r, so 4*pi*pi r^2/(8r)^2 = pi^2/16
    expect(lesion.compactness).to.be.closeTo(Math.PI ** 2 / 16, 0.03)
    expect(lesion.elongation).to.be.lessThan(0.02)
    expect(lesion.occupancy).to.be.closeTo(area(disk) / (S * S), 1e-9)
  })

  it('a 3:1 ellipse has elongation near 1 - 1/3, whatever its orientation', () => {
    const c = Math.cos(Math.PI / 5),
      s = Math.sin(Math.PI / 5)
    const ellipse = draw((x, y) => {
      const u = c * x + s * y,
        v = -s * x + c * y
      return (u / 36) ** 2 + (v / 12) ** 2 <= 1
    })
    expect(channelShapes(ellipse, S, S, 2)[1].elongation).to.be.closeTo(2 / 3, 0.02)
  })

  it('an irregular star has lower compactness than a disk of the same area', () => {
    const star = draw((x, y) => Math.hypot(x, y) <= 18 * (1 + 0.45 * Math.cos(5 * Math.atan2(y, x))))
    const r = Math.sqrt(area(star) / Math.PI)
    const disk = draw((x, y) => x * x + y * y <= r * r)
    expect(Math.abs(area(star) - area(disk)) / area(disk)).to.be.lessThan(0.03)
    const [starShape, diskShape] = [channelShapes(star, S, S, 2)[1], channelShapes(disk, S, S, 2)[1]]
    expect(starShape.compactness).to.be.lessThan(0.75 * diskShape.compactness)
    expect(starShape.elongation).to.be.lessThan(0.05) // 5-fold symmetric: not elongated
  })

  it('empty and one-pixel channels give zeros; the image border counts as perimeter', () => {
    const one = new Int32Array(S * S)
    one[0] = 2
    const [bg, empty, dot] = channelShapes(one, S, S, 3)
    expect(empty).to.deep.equal({occupancy: 0, compactness: 0, elongation: 0})
    expect(dot.elongation).to.equal(0)
    expect(dot.compactness).to.be.closeTo(Math.PI / 4, 1e-12) // area 1, perimeter 4 (2 border edges + 2 to the background)
    // the background fills the image but for the corner pixel: 4*S - 2 border edges + 2 to the dot
    expect(bg.compactness).to.be.closeTo((4 * Math.PI * (S * S - 1)) / (4 * S) ** 2, 1e-12)
  })

  it('lays the vector out as [occupancy, compactness, elongation] per channel, or occupancy only', () => {
    const disk = draw((x, y) => x * x + y * y <= 15 * 15)
    const full = anatomyVector(disk, S, S, 4, 'occupancy+shape')
    const occ = anatomyVector(disk, S, S, 4, 'occupancy')
    expect(full.length).to.equal(anatomyVectorLength('occupancy+shape', 4)).and.to.equal(12)
    expect(occ.length).to.equal(anatomyVectorLength('occupancy', 4)).and.to.equal(4)
    const shapes = channelShapes(disk, S, S, 4)
    shapes.forEach((s, k) => {
      expect(full[3 * k]).to.be.closeTo(s.occupancy, 1e-6)
      expect(full[3 * k + 1]).to.be.closeTo(s.compactness, 1e-6)
      expect(full[3 * k + 2]).to.be.closeTo(s.elongation, 1e-6)
      expect(occ[k]).to.be.closeTo(s.occupancy, 1e-6)
    })
    expect(occ.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-6)
  })

  it('rejects a label outside the channel range', () => {
    expect(() => channelShapes(Int32Array.from([0, 5]), 1, 2, 3)).to.throw(/label 5/)
  })
})
