// What the sampling loop needs from a scheduler (diffusers' SchedulerMixin, reduced):
// setTimesteps(n), the timesteps to visit, and step(eps, t, x_t) -> x_{t-1}. Samples are
// host Float32Arrays of any layout (every update is elementwise); scalars are rounded to
// float32 after each operation because diffusers computes them as 0-dim float32 tensors.
import {alphasCumprod, linearBetas, pixartNoiseSchedule, type NoiseScheduleConfig} from './noise-schedule.js'

export type SamplerName = 'dpm-solver++' | 'ddim' | 'ddpm'

/** Supplies fresh standard-normal noise of the sample's length (ancestral samplers only). */
export type NoiseSource = (length: number) => Float32Array

export interface Scheduler {
  readonly name: SamplerName
  /** timesteps visited, in order (descending), after setTimesteps */
  readonly timesteps: readonly number[]
  /** scale of the initial latent (1 for every scheduler here) */
  readonly initNoiseSigma: number
  setTimesteps(numInferenceSteps: number): void
  step(modelOutput: Float32Array, t: number, sample: Float32Array, noise?: NoiseSource): Float32Array
}

export interface SchedulerOptions extends NoiseScheduleConfig {
  /** DDPM/DDIM: clamp the predicted x0 to [-clipSampleRange, clipSampleRange] (diffusers default true) */
  clipSample: boolean
  clipSampleRange: number
  /**
   * Pixel-space models trained from scratch: clamp every sampler's x0 prediction to
   * [-x0ClipRange, x0ClipRange] (the data range in model units). DPM-Solver++ then clips inside
   * convert_model_output and DDIM/DDPM use it instead of clipSampleRange. Unset = diffusers' behaviour.
   */
  x0ClipRange?: number
}

/**
 * The bound DDPM/DDIM clamp the predicted x0 to, or null for no clamping: a pixel model's data
 * range (x0ClipRange) replaces diffusers' clip_sample_range and turns clipping on.
 */
export function x0ClipBound(options: SchedulerOptions): number | null {
  if (options.x0ClipRange !== undefined) return options.x0ClipRange
  return options.clipSample ? options.clipSampleRange : null
}

export const defaultSchedulerOptions: SchedulerOptions = {...pixartNoiseSchedule, clipSample: true, clipSampleRange: 1}

export const f32 = Math.fround
export const sqrtf = (x: number): number => f32(Math.sqrt(x))

/** betas and alphas_cumprod for a scheduler config, both float32 like diffusers. */
export function scheduleArrays(config: NoiseScheduleConfig): {betas: Float32Array; alphasCumprod: Float32Array} {
  const betas = linearBetas(config)
  return {betas, alphasCumprod: alphasCumprod(betas)}
}

export function requireTimestep(timesteps: readonly number[], t: number, name: string): number {
  const index = timesteps.indexOf(t)
  if (index < 0) throw new Error(`${name}: timestep ${t} is not one of the ${timesteps.length} set by setTimesteps`)
  return index
}
