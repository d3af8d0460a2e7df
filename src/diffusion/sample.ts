// The reverse-diffusion loop shared by every sampler (docs/REFERENCE.md §6): per-image seeded initial
// latents, one model call per step on [uncond; cond] when guided, the guidance combination, and
// the scheduler update on the host. Each image owns its generator (seeded from its own seed), so
// an image does not change with the batch it happens to be sampled in.
import * as tf from '@tensorflow/tfjs'
import {Rng} from '../util/rng.js'
import {combineGuidance, usesGuidance} from './guidance.js'
import type {Scheduler} from './scheduler.js'

/** Condition tokens as the DiT takes them: tokens [B, L, D], mask [B, L] (1 = attend). */
export interface Condition {
  tokens: tf.Tensor3D
  mask: tf.Tensor2D
}

/** What the loop needs from a denoiser (the fine-tuned DiT, or a fake in tests). */
export interface Denoiser {
  /** latent (or pixel) sample shape [H, W, C] */
  sampleShape: [number, number, number]
  /** NHWC in, NHWC out with every output channel (incl. a learned-sigma half) */
  predict(x: tf.Tensor4D, t: number | number[], cond: Condition): tf.Tensor4D
  /** the null condition guidance contrasts against */
  nullCondition(n: number): Condition
}

export interface SampleRequest {
  denoiser: Denoiser
  scheduler: Scheduler
  steps: number
  guidance: number
  /** condition of each image in the batch */
  cond: Condition
  /** one seed per image */
  seeds: readonly number[]
  /** called after each step (progress) */
  onStep?: (index: number, t: number) => void
}

/** Runs the whole trajectory for one batch; returns final latents, NHWC, flattened. */
export async function sampleLatents(req: SampleRequest): Promise<Float32Array> {
  const {denoiser, scheduler, seeds} = req
  const [h, w, c] = denoiser.sampleShape
  const n = seeds.length
  const per = h * w * c
  if (req.cond.tokens.shape[0] !== n) throw new Error(`condition batch ${req.cond.tokens.shape[0]} != ${n} seeds`)
  const rngs = seeds.map(s => new Rng(s))
  let x: Float32Array = new Float32Array(n * per)
  rngs.forEach((rng, i) => x.set(rng.normalArray(per, scheduler.initNoiseSigma), i * per))
  const noise = (length: number): Float32Array => {
    const z = new Float32Array(length)
    rngs.forEach((rng, i) => z.set(rng.normalArray(length / n), i * (length / n)))
    return z
  }
  const guided = usesGuidance(req.guidance)
  let cond = req.cond
  let ownedCond: Condition | null = null
  if (guided) {
    const nul = denoiser.nullCondition(n)
    ownedCond = {
      tokens: tf.concat([nul.tokens, req.cond.tokens], 0),
      mask: tf.concat([nul.mask, req.cond.mask], 0)
    }
    tf.dispose([nul.tokens, nul.mask])
    cond = ownedCond
  }
  try {
    scheduler.setTimesteps(req.steps)
    for (const [index, t] of scheduler.timesteps.entries()) {
      const eps = tf.tidy(() => {
        const xt = tf.tensor4d(x, [n, h, w, c])
        const input = guided ? tf.concat([xt, xt], 0) : xt
        return combineGuidance(denoiser.predict(input, t, cond), req.guidance, c)
      })
      const epsHost = (await eps.data()) as Float32Array
      eps.dispose()
      x = scheduler.step(epsHost, t, x, noise)
      req.onStep?.(index, t)
    }
  } finally {
    if (ownedCond) tf.dispose([ownedCond.tokens, ownedCond.mask])
  }
  return x
}
