import {expect} from 'chai'
import {join} from 'node:path'
import {measureAttributes} from '../../src/caption/measure.js'
import {renderCaption} from '../../src/caption/vocab.js'
import {attributeNamesOf, type DatasetKind} from '../../src/data/attributes.js'
import {synthesize} from '../../src/data/synth/write.js'
import {loadDataset, loadImage, loadMask} from '../../src/data/dataset.js'
import {readJsonl} from '../../src/io/atomic.js'
import {tmpDir} from '../helpers/tmp.js'

function disc(size: number, cx: number, cy: number, rx: number, ry: number): Uint8Array {
  const m = new Uint8Array(size * size)
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) m[y * size + x] = ((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 < 1 ? 1 : 0
  return m
}

/** A brown lesion on skin, sharp edge, from a mask. */
function paint(mask: Uint8Array, size: number): Float32Array {
  const d = new Float32Array(size * size * 3)
  for (let i = 0; i < size * size; i++) {
    const [r, g, b] = mask[i] ? [0.55, 0.38, 0.25] : [0.85, 0.7, 0.62]
    d[3 * i] = r
    d[3 * i + 1] = g
    d[3 * i + 2] = b
  }
  return d
}

describe('caption: measured attributes', () => {
  it('reads shape, symmetry and size off simple masks', () => {
    const size = 64
    const round = disc(size, 32, 32, 12, 12)
    const m1 = measureAttributes({data: paint(round, size), width: size, height: size}, round, 'dermoscopy')
    expect(m1.attributes).to.include({
      shape: 'round',
      symmetry: 'symmetric',
      size: 'medium',
      border: 'sharp',
      texture: 'smooth',
      secondaryColour: 'none'
    })
    expect(m1.measures.eccentricity).to.be.below(0.2)
    expect(m1.measures.solidity).to.be.above(0.95)
    const oval = disc(size, 32, 32, 20, 9)
    const m2 = measureAttributes({data: paint(oval, size), width: size, height: size}, oval, 'dermoscopy')
    expect(m2.attributes.shape).to.equal('oval')
    expect(m2.measures.eccentricity).to.be.closeTo(Math.sqrt(1 - (9 / 20) ** 2), 0.03)
    // two discs side by side: not solid, and asymmetric once one is bigger
    const blobs = disc(size, 22, 32, 10, 10).map((v, i) => v | disc(size, 42, 34, 6, 6)[i])
    const m3 = measureAttributes({data: paint(blobs, size), width: size, height: size}, blobs, 'dermoscopy')
    expect(m3.attributes.shape).to.equal('irregular')
    expect(m3.attributes.symmetry).to.equal('asymmetric')
  })

  it('says unknown without a mask and none for an empty one; works on large images', () => {
    const size = 64
    const data = paint(new Uint8Array(size * size), size)
    const none = measureAttributes({data, width: size, height: size}, null, 'dermoscopy')
    expect(none.attributes).to.include({shape: 'unknown', border: 'unknown', symmetry: 'unknown', size: 'unknown'})
    const empty = measureAttributes({data, width: size, height: size}, new Uint8Array(size * size), 'ultrasound')
    expect(empty.attributes).to.include({shape: 'none', border: 'none', symmetry: 'none', size: 'none', colour: 'none'})
    expect(renderCaption('ultrasound', 'normal', empty.attributes).anatomy).to.equal('no mass')
    // a 600×450 photograph-sized input is measured at a working scale with the same result
    const big = disc(600, 300, 225, 110, 110).slice(0, 600 * 450)
    const m = measureAttributes(
      {data: paint(big, 600).slice(0, 600 * 450 * 3), width: 600, height: 450},
      big,
      'dermoscopy'
    )
    expect(m.attributes).to.include({shape: 'round', symmetry: 'symmetric'})
  })

  it('agrees with the synth ground truth on >= 90% of images for every attribute (64 px, read from disk)', async function () {
    this.timeout(120000)
    const figures: string[] = []
    for (const kind of ['dermoscopy', 'polyp', 'ultrasound'] as DatasetKind[]) {
      const out = join(tmpDir(), kind)
      const n = 150
      await synthesize({kind, n, size: 64, out, seed: 11})
      const ds = await loadDataset(out)
      const truth = new Map(
        (await readJsonl<{id: string; attributes: Record<string, string>}>(join(out, 'attributes.jsonl'))).map(t => [
          t.id,
          t.attributes
        ])
      )
      const agree: Record<string, number> = {}
      for (const r of ds.records) {
        const image = await loadImage(r)
        const mask = await loadMask(r)
        const got = measureAttributes(image, mask, kind).attributes
        for (const a of attributeNamesOf(kind)) if (got[a] === truth.get(r.id)![a]) agree[a] = (agree[a] ?? 0) + 1
      }
      const shares = Object.fromEntries(attributeNamesOf(kind).map(a => [a, (agree[a] ?? 0) / ds.records.length]))
      figures.push(
        `${kind}: ` +
          Object.entries(shares)
            .map(([a, v]) => `${a} ${(100 * v).toFixed(1)}%`)
            .join(', ')
      )
      for (const [a, v] of Object.entries(shares)) expect(v, `${kind} ${a} agreement`).to.be.at.least(0.9)
    }
    console.log(figures.map(f => `      ${f}`).join('\n'))
  })
})
