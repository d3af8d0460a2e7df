// The sampling loop with an ideal denoiser: when the data is one known image x*, the optimal
// epsilon is (x_t - sqrt(acp_t) x*) / sqrt(1 - acp_t). Every sampler must then land on x*
// (DPM-Solver++ and DDIM exactly up to float error, DDPM up to its last small noise-free step),
// through the real loop: NHWC tensors, [uncond; cond] guidance batch, learned-sigma split.
import * as tf from '@tensorflow/tfjs'
import {expect} from 'chai'
import {createScheduler, type SamplerName} from '../../src/diffusion/index.js'
import {alphasCumprod, linearBetas} from '../../src/diffusion/noise-schedule.js'
import {sampleLatents, type Condition, type Denoiser} from '../../src/diffusion/sample.js'
import {useTestBackend} from '../helpers/backend.js'

const acp = alphasCumprod(linearBetas())
const [H, W, C] = [4, 4, 3]
const target = Float32Array.from({length: H * W * C}, (_, i) => Math.sin(i * 0.9) * 0.8)

const oracle: Denoiser = {
  sampleShape: [H, W, C],
  predict(x: tf.Tensor4D, t: number | number[]): tf.Tensor4D {
    const a = acp[typeof t === 'number' ? t : t[0]]
    return tf.tidy(() => {
      const x0 = tf.tensor4d(target, [1, H, W, C])
      const eps = tf.div(tf.sub(x, tf.mul(x0, Math.sqrt(a))), Math.sqrt(1 - a))
      return tf.concat([eps, tf.mul(eps, 0)], 3) as tf.Tensor4D
    })
  },
  nullCondition: (n: number): Condition => ({
    tokens: tf.zeros([n, 1, 2]) as tf.Tensor3D,
    mask: tf.ones([n, 1]) as tf.Tensor2D
  })
}

describe('generate: samplers reach the data with an ideal denoiser', () => {
  before(async () => {
    await useTestBackend()
  })

  for (const [sampler, steps, tol] of [
    ['dpm-solver++', 20, 1e-3],
    ['ddim', 20, 1e-3],
    ['ddpm', 50, 0.05]
  ] as Array<[SamplerName, number, number]>) {
    it(`${sampler}, ${steps} steps, guidance 4.5: every image ends at x* (max error < ${tol})`, async () => {
      const cond = {tokens: tf.ones([2, 1, 2]) as tf.Tensor3D, mask: tf.ones([2, 1]) as tf.Tensor2D}
      const out = await sampleLatents({
        denoiser: oracle,
        scheduler: createScheduler(sampler),
        steps,
        guidance: 4.5,
        cond,
        seeds: [1, 2]
      })
      tf.dispose([cond.tokens, cond.mask])
      let err = 0
      for (let i = 0; i < out.length; i++) err = Math.max(err, Math.abs(out[i] - target[i % target.length]))
      expect(err).to.be.below(tol)
    })
  }
})
