// DDIM with eta = 0 (deterministic), as DDIMScheduler.from_config(PixArt's scheduler config)
// in diffusers v0.27.2: linspace spacing, clip_sample true (range 1), set_alpha_to_one true.
// Quirk kept on purpose: the "previous" timestep is t - T // n (e.g. 999 -> 949 for n = 20),
// not the next entry of the linspace schedule (999 -> 946); golden/schedulers pins this.
import {linspaceTimesteps} from './noise-schedule.js'
import {
  defaultSchedulerOptions,
  f32,
  scheduleArrays,
  sqrtf,
  x0ClipBound,
  type Scheduler,
  type SchedulerOptions
} from './scheduler.js'

export class DdimScheduler implements Scheduler {
  readonly name = 'ddim' as const
  readonly initNoiseSigma = 1
  readonly alphasCumprod: Float32Array
  /** alpha_cumprod used past t = 0 (set_alpha_to_one) */
  readonly finalAlphaCumprod = 1
  timesteps: number[] = []
  private numInferenceSteps = 0

  constructor(private readonly options: SchedulerOptions = defaultSchedulerOptions) {
    this.alphasCumprod = scheduleArrays(options).alphasCumprod
  }

  setTimesteps(numInferenceSteps: number): void {
    if (numInferenceSteps > this.options.numTrainTimesteps) {
      throw new Error(
        `ddim: ${numInferenceSteps} steps exceed the ${this.options.numTrainTimesteps} training timesteps`
      )
    }
    this.numInferenceSteps = numInferenceSteps
    this.timesteps = linspaceTimesteps(this.options.numTrainTimesteps, numInferenceSteps, false)
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    if (this.numInferenceSteps === 0) throw new Error('ddim: call setTimesteps before step')
    const prevT = t - Math.floor(this.options.numTrainTimesteps / this.numInferenceSteps)
    const alphaProdT = this.alphasCumprod[t]
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod
    const sqrtBetaProdT = sqrtf(f32(1 - alphaProdT))
    const sqrtAlphaProdT = sqrtf(alphaProdT)
    // eta = 0: std_dev_t = 0, so the direction term is sqrt(1 - acp_prev) * eps and no noise is added.
    const sqrtAlphaPrev = sqrtf(alphaProdPrev)
    const directionCoef = sqrtf(f32(1 - alphaProdPrev))
    const range = x0ClipBound(this.options)
    const out = new Float32Array(sample.length)
    for (let k = 0; k < out.length; k++) {
      let x0 = f32(f32(sample[k] - f32(sqrtBetaProdT * modelOutput[k])) / sqrtAlphaProdT)
      if (range !== null) x0 = Math.min(range, Math.max(-range, x0))
      out[k] = f32(f32(sqrtAlphaPrev * x0) + f32(directionCoef * modelOutput[k]))
    }
    return out
  }
}
