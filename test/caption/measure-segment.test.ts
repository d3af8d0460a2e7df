import {expect} from 'chai'
import {estimateMask} from '../../src/caption/measure-segment.js'
import {drawSample} from '../../src/data/synth/sample.js'
import {deriveSeed} from '../../src/util/rng.js'

const iou = (a: Uint8Array, b: Uint8Array) => {
  let i = 0,
    u = 0
  for (let k = 0; k < a.length; k++) {
    i += a[k] & b[k]
    u += a[k] | b[k]
  }
  return u ? i / u : 1
}

describe('caption: lesion mask estimated from the image', () => {
  for (const kind of ['dermoscopy', 'polyp'] as const) {
    it(`${kind}: overlaps the drawn mask (mean IoU >= 0.8 on 40 synth images)`, () => {
      const scores: number[] = []
      for (let i = 0; i < 40; i++) {
        const s = drawSample(kind, deriveSeed(3, kind, i), 64)
        const est = estimateMask({data: Float32Array.from(s.rgb, v => v / 255), width: 64, height: 64}, kind)
        scores.push(iou(est, s.mask))
      }
      const mean = scores.reduce((x, y) => x + y, 0) / scores.length
      console.log(`      ${kind}: mean IoU ${mean.toFixed(3)}, worst ${Math.min(...scores).toFixed(3)}`)
      expect(mean).to.be.at.least(0.8)
    })
  }

  it('finds nothing in an image without a lesion', () => {
    const size = 64,
      data = new Float32Array(size * size * 3)
    for (let i = 0; i < size * size; i++) {
      data[3 * i] = 0.85 + 0.01 * Math.sin(i)
      data[3 * i + 1] = 0.7
      data[3 * i + 2] = 0.62
    }
    expect(estimateMask({data, width: size, height: size}, 'dermoscopy').every(v => v === 0)).to.equal(true)
  })
})
