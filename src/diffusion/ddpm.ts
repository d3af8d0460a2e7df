// DDPM ancestral sampling and training noise, as diffusers v0.27.2 DDPMScheduler built from
// PixArt's scheduler config (docs/REFERENCE.md §5.4-5.5): linear betas, linspace spacing,
// variance_type null (= fixed_small, the posterior variance beta~_t clamped at 1e-20),
// clip_sample true (x0 clamped to [-1, 1]). Noise comes from a seeded NoiseSource so each
// image's trajectory is reproducible (diffusers draws it from the pipeline's generator).
import {addNoise, linspaceTimesteps} from './noise-schedule.js'
import {
  defaultSchedulerOptions,
  f32,
  scheduleArrays,
  sqrtf,
  x0ClipBound,
  type NoiseSource,
  type Scheduler,
  type SchedulerOptions
} from './scheduler.js'

export class DdpmScheduler implements Scheduler {
  readonly name = 'ddpm' as const
  readonly initNoiseSigma = 1
  readonly betas: Float32Array
  readonly alphasCumprod: Float32Array
  timesteps: number[] = []
  private numInferenceSteps: number

  constructor(private readonly options: SchedulerOptions = defaultSchedulerOptions) {
    const arrays = scheduleArrays(options)
    this.betas = arrays.betas
    this.alphasCumprod = arrays.alphasCumprod
    this.numInferenceSteps = options.numTrainTimesteps
    this.timesteps = Array.from({length: options.numTrainTimesteps}, (_, i) => options.numTrainTimesteps - 1 - i)
  }

  setTimesteps(numInferenceSteps: number): void {
    if (numInferenceSteps > this.options.numTrainTimesteps) {
      throw new Error(
        `ddpm: ${numInferenceSteps} steps exceed the ${this.options.numTrainTimesteps} training timesteps`
      )
    }
    this.numInferenceSteps = numInferenceSteps
    this.timesteps = linspaceTimesteps(this.options.numTrainTimesteps, numInferenceSteps, false)
  }

  /** Training-time forward process q(x_t | x_0); one timestep per batch item. */
  addNoise(original: Float32Array, noise: Float32Array, timesteps: readonly number[]): Float32Array {
    return addNoise(this.alphasCumprod, original, noise, timesteps)
  }

  previousTimestep(t: number): number {
    return t - Math.floor(this.options.numTrainTimesteps / this.numInferenceSteps)
  }

  /** Posterior variance beta~_t = (1 - acp_prev)/(1 - acp_t) * (1 - acp_t/acp_prev), clamped at 1e-20. */
  variance(t: number): number {
    const prevT = this.previousTimestep(t)
    const alphaProdT = this.alphasCumprod[t]
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT] : 1
    const currentBeta = f32(1 - f32(alphaProdT / alphaProdPrev))
    return Math.max(1e-20, f32(f32(f32(1 - alphaProdPrev) / f32(1 - alphaProdT)) * currentBeta))
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, noise?: NoiseSource): Float32Array {
    const prevT = this.previousTimestep(t)
    const alphaProdT = this.alphasCumprod[t]
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT] : 1
    const betaProdT = f32(1 - alphaProdT)
    const betaProdPrev = f32(1 - alphaProdPrev)
    const currentAlpha = f32(alphaProdT / alphaProdPrev)
    const currentBeta = f32(1 - currentAlpha)
    const sqrtBetaProdT = sqrtf(betaProdT)
    const sqrtAlphaProdT = sqrtf(alphaProdT)
    const x0Coef = f32(f32(sqrtf(alphaProdPrev) * currentBeta) / betaProdT)
    const sampleCoef = f32(f32(sqrtf(currentAlpha) * betaProdPrev) / betaProdT)
    const range = x0ClipBound(this.options)
    const out = new Float32Array(sample.length)
    for (let k = 0; k < out.length; k++) {
      let x0 = f32(f32(sample[k] - f32(sqrtBetaProdT * modelOutput[k])) / sqrtAlphaProdT)
      if (range !== null) x0 = Math.min(range, Math.max(-range, x0))
      out[k] = f32(f32(x0Coef * x0) + f32(sampleCoef * sample[k]))
    }
    if (t > 0) {
      if (!noise) throw new Error('ddpm: step needs a noise source for t > 0')
      const z = noise(sample.length)
      const std = sqrtf(this.variance(t))
      for (let k = 0; k < out.length; k++) out[k] = f32(out[k] + f32(std * z[k]))
    }
    return out
  }
}
