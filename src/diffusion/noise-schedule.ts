// The discrete noise schedule every sampler shares, computed the way diffusers v0.27.2 does
// it (docs/REFERENCE.md §5.4 and §6): betas = torch.linspace(beta_start, beta_end, 1000, float32),
// alphas_cumprod = torch.cumprod(1 - betas) in float32. Timestep spacings follow numpy's
// linspace + round (half to even), which is what the schedulers' set_timesteps use.
// Training (DdpmSchedule, on tensors) and the samplers (on Float32Arrays) use the same arrays,
// so they see bit-identical alphas_cumprod.
import * as tf from '@tensorflow/tfjs'

/** The PixArt-alpha scheduler config (golden/schedulers/config.json, pixart_scheduler_config). */
export interface NoiseScheduleConfig {
  numTrainTimesteps: number
  betaStart: number
  betaEnd: number
}

export const pixartNoiseSchedule: NoiseScheduleConfig = {numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02}

const f32 = Math.fround

/**
 * torch.linspace(start, end, steps, dtype=float32) on CPU (torch 1.13, AVX2 kernels), which is
 * what produced the golden betas: step in float32; the first half counted up from start and the
 * second half down from end; whole 8-lane vectors (in pairs) computed as base + k*step from the
 * vector's first index (the compiler fuses start + step*idx into one FMA, i.e. one rounding),
 * the tail element by element. This reproduces golden/schedulers betas bit for bit.
 */
export function linspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps)
  if (steps === 1) {
    out[0] = start
    return out
  }
  const s = f32(start)
  const e = f32(end)
  const step = f32(f32(e - s) / (steps - 1))
  const halfway = Math.floor(steps / 2)
  const lanes = 8
  // step * idx is exact in double (24-bit x 10-bit), so one f32() gives the fused multiply-add.
  const baseAt = (idx: number): number => (idx < halfway ? f32(s + step * idx) : f32(e - step * (steps - idx - 1)))
  let i = 0
  for (; i <= steps - 2 * lanes; i += lanes) {
    const base = baseAt(i)
    for (let k = 0; k < lanes; k++) out[i + k] = k === 0 ? base : f32(base + f32(k * step))
  }
  for (; i < steps; i++) out[i] = baseAt(i)
  return out
}

export function linearBetas(config: NoiseScheduleConfig = pixartNoiseSchedule): Float32Array {
  return linspaceFloat32(config.betaStart, config.betaEnd, config.numTrainTimesteps)
}

/** torch.cumprod on CPU accumulates float32 inputs in double and rounds each output to float32. */
export function alphasCumprod(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length)
  let acc = 1
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i])
    out[i] = acc
  }
  return out
}

/** numpy's round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** np.linspace(start, stop, num) in float64: i*step + start, last element exactly stop. */
export function numpyLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start]
  const step = (stop - start) / (num - 1)
  const out = Array.from({length: num}, (_, i) => i * step + start)
  out[num - 1] = stop
  return out
}

/**
 * DDPM/DDIM "linspace" spacing: np.linspace(0, T-1, n).round()[::-1] (includes t = 0).
 * DPM-Solver++ uses n+1 points and drops the last (so it never evaluates t = 0).
 */
export function linspaceTimesteps(numTrainTimesteps: number, numInferenceSteps: number, dropLast: boolean): number[] {
  const points = dropLast ? numInferenceSteps + 1 : numInferenceSteps
  const ts = numpyLinspace(0, numTrainTimesteps - 1, points)
    .map(roundHalfEven)
    .reverse()
  return dropLast ? ts.slice(0, -1) : ts
}

/** x_t = sqrt(acp[t]) x0 + sqrt(1 - acp[t]) eps (DDPMScheduler.add_noise), per batch item t. */
export function addNoise(
  acp: Float32Array,
  original: Float32Array,
  noise: Float32Array,
  timesteps: readonly number[]
): Float32Array {
  const n = timesteps.length
  if (original.length !== noise.length || original.length % n !== 0) {
    throw new Error(`addNoise: ${original.length} samples, ${noise.length} noise values, ${n} timesteps do not match`)
  }
  const per = original.length / n
  const out = new Float32Array(original.length)
  for (let b = 0; b < n; b++) {
    const a = acp[timesteps[b]]
    const sa = f32(Math.sqrt(a))
    const sb = f32(Math.sqrt(f32(1 - a)))
    for (let i = b * per; i < (b + 1) * per; i++) out[i] = f32(sa * original[i]) + f32(sb * noise[i])
  }
  return out
}

/**
 * The DDPM forward (noising) process on tensors, for training (docs/REFERENCE.md §5.4):
 * x_t = sqrt(acp_t) x0 + sqrt(1 - acp_t) eps with the PixArt schedule by default.
 */
export class DdpmSchedule {
  readonly betas: Float32Array
  readonly alphasCumprod: Float32Array
  readonly numTrainTimesteps: number
  constructor(config: NoiseScheduleConfig = pixartNoiseSchedule) {
    this.numTrainTimesteps = config.numTrainTimesteps
    this.betas = linearBetas(config)
    this.alphasCumprod = alphasCumprod(this.betas)
  }

  /** [B,1,1,1] tensors sqrt(acp_t) and sqrt(1 - acp_t) for per-row timesteps. */
  coefficients(t: readonly number[]): {signal: tf.Tensor4D; noise: tf.Tensor4D} {
    const a = t.map(i => this.alphasCumprod[i])
    return {
      signal: tf.tensor4d(a.map(Math.sqrt), [t.length, 1, 1, 1]),
      noise: tf.tensor4d(
        a.map(v => Math.sqrt(1 - v)),
        [t.length, 1, 1, 1]
      )
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
