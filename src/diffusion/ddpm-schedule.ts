// The DDPM forward (noising) process used for training (docs/REFERENCE.md §5.4): linear betas
// 1e-4..0.02 over 1000 steps, x_t = sqrt(acp_t) x0 + sqrt(1 - acp_t) eps, epsilon target.
// The float32 arithmetic of the betas/cumprod is shared with the samplers (noise-schedule.ts),
// so training and sampling see bit-identical alphas_cumprod.
import * as tf from '@tensorflow/tfjs'
import {alphasCumprod as cumprodFloat32, linspaceFloat32} from './noise-schedule.js'

/** torch.linspace(start, end, n) in float32, as diffusers' DDPMScheduler builds its betas. */
export function linearBetas(n = 1000, start = 1e-4, end = 0.02): Float32Array {
  return linspaceFloat32(start, end, n)
}

/** cumprod(1 - betas) as torch does it on CPU (float32 outputs). */
export function alphasCumprod(betas: Float32Array): Float32Array {
  return cumprodFloat32(betas)
}

export class DdpmSchedule {
  readonly betas: Float32Array
  readonly alphasCumprod: Float32Array
  constructor(readonly numTrainTimesteps = 1000, betaStart = 1e-4, betaEnd = 0.02) {
    this.betas = linearBetas(numTrainTimesteps, betaStart, betaEnd)
    this.alphasCumprod = alphasCumprod(this.betas)
  }

  /** [B,1,1,1] tensors sqrt(acp_t) and sqrt(1 - acp_t) for per-row timesteps. */
  coefficients(t: readonly number[]): {signal: tf.Tensor4D, noise: tf.Tensor4D} {
    const a = t.map(i => this.alphasCumprod[i])
    return {
      signal: tf.tensor4d(a.map(Math.sqrt), [t.length, 1, 1, 1]),
      noise: tf.tensor4d(a.map(v => Math.sqrt(1 - v)), [t.length, 1, 1, 1]),
    }
  }

  /** diffusers DDPMScheduler.add_noise: sqrt(acp_t) x0 + sqrt(1 - acp_t) noise. */
  addNoise(x0: tf.Tensor4D, noise: tf.Tensor4D, t: readonly number[]): tf.Tensor4D {
    return tf.tidy(() => {
      const {signal, noise: sigma} = this.coefficients(t)
      return x0.mul(signal).add(noise.mul(sigma)) as tf.Tensor4D
    })
  }

  /** The clean image implied by an epsilon prediction: (x_t - sqrt(1-acp) eps) / sqrt(acp). */
  predictX0(xt: tf.Tensor4D, eps: tf.Tensor4D, t: readonly number[]): tf.Tensor4D {
    return tf.tidy(() => {
      const {signal, noise} = this.coefficients(t)
      return xt.sub(eps.mul(noise)).div(signal) as tf.Tensor4D
    })
  }
}

const shared = new DdpmSchedule()

/** add_noise with the PixArt schedule (linear 1e-4..0.02, 1000 steps). */
export function addNoise(x0: tf.Tensor4D, noise: tf.Tensor4D, t: readonly number[]): tf.Tensor4D {
  return shared.addNoise(x0, noise, t)
}
