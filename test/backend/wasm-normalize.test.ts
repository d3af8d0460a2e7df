// The fused normalisation kernels on wasm (src/backend/wasm-normalize.ts, src/models/normalize.ts,
// issue 20) against the composed tfjs ops they replace (MEDGEN_FUSED_KERNELS=0): forward and
// gradient for LayerNorm and GroupNorm layouts, inputs far from zero mean, and no leaked tensors.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {normalizeGroups} from '../../src/models/normalize.js'
import {fusedNormalizeAvailable, type NormalizeAttrs} from '../../src/backend/wasm-normalize.js'
import {Rng} from '../../src/util/rng.js'

function composedToo<T>(f: () => T): T {
  process.env.MEDGEN_FUSED_KERNELS = '0'
  try {
    return f()
  } finally {
    delete process.env.MEDGEN_FUSED_KERNELS
  }
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => a.sub(b).abs().max().dataSync()[0])

describe('fused normalisation (wasm)', () => {
  before(async function () {
    await useTestBackend()
    if (!fusedNormalizeAvailable()) this.skip()
  })

  const cases: [string, number[], NormalizeAttrs, number][] = [
    ['LayerNorm over 96 channels', [8, 64, 96], {n: 512, s: 1, g: 1, k: 96, eps: 1e-6}, 0],
    ['GroupNorm NHWC, 4 groups of 8', [2, 5, 7, 32], {n: 2, s: 35, g: 4, k: 8, eps: 1e-6}, 0],
    ['GroupNorm, one channel per group, mean 50', [3, 4, 4, 6], {n: 3, s: 16, g: 6, k: 1, eps: 1e-5}, 50]
  ]
  for (const [name, shape, attrs, offset] of cases) {
    it(`${name}: forward and gradient equal the composed ops`, () => {
      const rng = new Rng(shape.length)
      const size = shape.reduce((a, b) => a * b, 1)
      const x = tf.tensor(
        rng.normalArray(size, 2).map(v => v + offset),
        shape
      )
      const dy = tf.tensor(rng.normalArray(size), shape)
      const before = tf.memory().numTensors
      const loss = (t: tf.Tensor) => normalizeGroups(t, attrs).mul(dy).sum()
      // no tidy around the fused calls: whatever they leave shows in the count
      const y = normalizeGroups(x, attrs)
      const dx = tf.grad(loss)(x)
      expect(tf.memory().numTensors - before, 'tensors left: y and dx').to.equal(2)
      const yRef = composedToo(() => tf.tidy(() => normalizeGroups(x, attrs)))
      const dxRef = composedToo(() => tf.grad(loss)(x))
      // the composed ops take float32 moments; the fused kernel float64 ones: agreement to float32 rounding
      expect(maxDiff(y, yRef)).to.be.below(offset > 0 ? 2e-3 : 2e-5)
      expect(maxDiff(dx, dxRef)).to.be.below(offset > 0 ? 2e-3 : 2e-5)
      // the normalised output has mean 0 and variance 1 per group (float64 check of the fused result)
      const ys = y.dataSync()
      const {n, s, g, k} = attrs
      for (let ni = 0; ni < n; ni += Math.max(1, Math.floor(n / 4)))
        for (let gi = 0; gi < g; gi++) {
          let sum = 0
          let sq = 0
          for (let si = 0; si < s; si++)
            for (let ki = 0; ki < k; ki++) {
              const v = ys[((ni * s + si) * g + gi) * k + ki]
              sum += v
              sq += v * v
            }
          expect(Math.abs(sum / (s * k))).to.be.below(1e-5)
          expect(Math.abs(sq / (s * k) - 1)).to.be.below(1e-3)
        }
      tf.dispose([x, dy, y, dx, yRef, dxRef])
    })
  }

  it('keeps nothing when no gradient is taken (inference)', () => {
    const x = tf.randomNormal([4, 16])
    const before = tf.memory().numTensors
    tf.tidy(() => {
      normalizeGroups(x, {n: 4, s: 1, g: 1, k: 16, eps: 1e-6})
    })
    expect(tf.memory().numTensors).to.equal(before)
    x.dispose()
  })
})
