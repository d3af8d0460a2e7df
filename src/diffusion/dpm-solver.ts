// DPM-Solver++ multistep, the sampler PixArt-alpha ships with (docs/REFERENCE.md §6):
// diffusers v0.27.2 DPMSolverMultistepScheduler with algorithm_type dpmsolver++, solver_order 2,
// solver_type midpoint, lower_order_final, final_sigmas_type "zero", timestep_spacing linspace,
// epsilon prediction, no thresholding. The model's eps is turned into x0 = (x - sigma_t eps)/alpha_t
// and the update runs in lambda = log(alpha/sigma); the first step and the last (to sigma = 0)
// are first order, the rest second-order midpoint.
import {linspaceTimesteps} from './noise-schedule.js'
import {
  defaultSchedulerOptions,
  f32,
  requireTimestep,
  scheduleArrays,
  sqrtf,
  type Scheduler,
  type SchedulerOptions
} from './scheduler.js'

const logf = (x: number): number => f32(Math.log(x))
const expf = (x: number): number => f32(Math.exp(x))

/** _sigma_to_alpha_sigma_t: alpha = 1/sqrt(sigma^2+1), sigma_t = sigma*alpha (float32 scalars). */
function alphaSigma(sigma: number): {alpha: number; sigmaT: number; lambda: number} {
  const alpha = f32(1 / sqrtf(f32(f32(sigma * sigma) + 1)))
  const sigmaT = f32(sigma * alpha)
  return {alpha, sigmaT, lambda: f32(logf(alpha) - logf(sigmaT))}
}

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly name = 'dpm-solver++' as const
  readonly initNoiseSigma = 1
  readonly solverOrder = 2
  readonly lowerOrderFinal = true
  readonly alphasCumprod: Float32Array
  /** sqrt((1 - acp) / acp) for every training timestep, float32 */
  private readonly trainSigmas: Float32Array
  timesteps: number[] = []
  /** sigma of each visited timestep plus the final 0 (final_sigmas_type "zero") */
  sigmas: Float32Array = new Float32Array(0)
  private modelOutputs: Array<Float32Array | null> = []
  private lowerOrderNums = 0
  private stepIndex: number | null = null

  constructor(private readonly options: SchedulerOptions = defaultSchedulerOptions) {
    this.alphasCumprod = scheduleArrays(options).alphasCumprod
    this.trainSigmas = this.alphasCumprod.map(a => sqrtf(f32(f32(1 - a) / a)))
  }

  setTimesteps(numInferenceSteps: number): void {
    // lambda_min_clipped is -inf in PixArt's config, so every training timestep is usable.
    this.timesteps = linspaceTimesteps(this.options.numTrainTimesteps, numInferenceSteps, true)
    this.sigmas = Float32Array.from([...this.timesteps.map(t => this.trainSigmas[t]), 0])
    this.modelOutputs = new Array(this.solverOrder).fill(null)
    this.lowerOrderNums = 0
    this.stepIndex = null
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    if (this.stepIndex === null) this.stepIndex = requireTimestep(this.timesteps, t, 'dpm-solver++')
    const i = this.stepIndex
    const n = this.timesteps.length
    // final_sigmas_type "zero" makes the last step first order whatever the step count.
    const lowerOrderFinal = i === n - 1
    const x0 = this.convertModelOutput(modelOutput, sample, i)
    this.modelOutputs.shift()
    this.modelOutputs.push(x0)
    const prev =
      this.lowerOrderNums < 1 || lowerOrderFinal
        ? this.firstOrderUpdate(x0, sample, i)
        : this.secondOrderUpdate(sample, i)
    if (this.lowerOrderNums < this.solverOrder) this.lowerOrderNums++
    this.stepIndex = i + 1
    return prev
  }

  /** epsilon -> x0 prediction (dpmsolver++ works on data predictions). */
  private convertModelOutput(eps: Float32Array, sample: Float32Array, i: number): Float32Array {
    const {alpha, sigmaT} = alphaSigma(this.sigmas[i])
    const out = new Float32Array(sample.length)
    for (let k = 0; k < out.length; k++) out[k] = f32(f32(sample[k] - f32(sigmaT * eps[k])) / alpha)
    // Deliberate addition for pixel models trained from scratch (diffusers has only dynamic
    // thresholding here): clamp x0 to the data range, or samples saturate at high noise.
    const r = this.options.x0ClipRange
    if (r !== undefined) for (let k = 0; k < out.length; k++) out[k] = Math.min(r, Math.max(-r, out[k]))
    return out
  }

  private firstOrderUpdate(x0: Float32Array, sample: Float32Array, i: number): Float32Array {
    const t = alphaSigma(this.sigmas[i + 1])
    const s = alphaSigma(this.sigmas[i])
    const h = f32(t.lambda - s.lambda) // +inf when the target sigma is 0: exp(-h) = 0, x_t = x0
    const ratio = f32(t.sigmaT / s.sigmaT)
    const coef = f32(t.alpha * f32(expf(-h) - 1))
    const out = new Float32Array(sample.length)
    for (let k = 0; k < out.length; k++) out[k] = f32(f32(ratio * sample[k]) - f32(coef * x0[k]))
    return out
  }

  private secondOrderUpdate(sample: Float32Array, i: number): Float32Array {
    const t = alphaSigma(this.sigmas[i + 1])
    const s0 = alphaSigma(this.sigmas[i])
    const s1 = alphaSigma(this.sigmas[i - 1])
    const m0 = this.modelOutputs[this.solverOrder - 1] as Float32Array
    const m1 = this.modelOutputs[this.solverOrder - 2] as Float32Array
    const h = f32(t.lambda - s0.lambda)
    const h0 = f32(s0.lambda - s1.lambda)
    const r0 = f32(h0 / h)
    const invR0 = f32(1 / r0)
    const ratio = f32(t.sigmaT / s0.sigmaT)
    const coef = f32(t.alpha * f32(expf(-h) - 1))
    const halfCoef = f32(0.5 * coef)
    const out = new Float32Array(sample.length)
    for (let k = 0; k < out.length; k++) {
      const d1 = f32(invR0 * f32(m0[k] - m1[k]))
      out[k] = f32(f32(f32(ratio * sample[k]) - f32(coef * m0[k])) - f32(halfCoef * d1))
    }
    return out
  }
}
