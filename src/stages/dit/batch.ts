// The in-memory training set of the DiT stage and the assembly of one seeded batch: random
// crop + horizontal flip (pixel space) or a posterior sample of the cached VAE moments + flip
// (latent space; docs/REFERENCE.md §5.4 samples the posterior rather than taking its mean).
import type {Rng} from '../../util/rng.js'

export interface DitExample {
  id: string
  classIndex: number
  anatomy: Float32Array
  style: Float32Array
  /** pooled text embedding (concat mode) */
  textPooled?: Float32Array
  /** token embeddings [L*E] and mask [L] (text mode) */
  textTokens?: Float32Array
  textMask?: Float32Array
}

export interface DitTrainingSet {
  space: 'pixel' | 'latent'
  /** per item: pixel [S,S,C] in [-1,1] with S >= model size, or latent moments [h,w,2C] (mean, logvar) */
  samples: Float32Array[]
  /** shape of each stored sample */
  storedShape: [number, number, number]
  /** shape of one model input [H,W,C] */
  modelShape: [number, number, number]
  /** latents = posterior sample * latentScale (latent space only) */
  latentScale: number
  examples: DitExample[]
  /** widths of each example's anatomy and style features (text/features.safetensors) */
  anatomyDim: number
  styleDim: number
  textDim: number
  textLength: number
  classNames: string[]
}

export interface HostBatch {
  indices: number[]
  /** clean target [B,H,W,C] in model space */
  x0: Float32Array
}

/** Copies one stored sample into `out` at `offset`, cropped/flipped/sampled as the rng decides. */
function writeSample(set: DitTrainingSet, item: number, rng: Rng, out: Float32Array, offset: number): void {
  const [sh, sw, sc] = set.storedShape
  const [h, w, c] = set.modelShape
  const src = set.samples[item]
  const flip = rng.uniform() < 0.5
  if (set.space === 'pixel') {
    const top = rng.int(sh - h + 1)
    const left = rng.int(sw - w + 1)
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sx = left + (flip ? w - 1 - x : x)
        const s = ((top + y) * sw + sx) * sc
        const d = offset + (y * w + x) * c
        for (let k = 0; k < c; k++) out[d + k] = src[s + k]
      }
    }
    return
  }
  // latent: stored [h,w,2C] = (mean, logvar); z = (mean + exp(logvar/2) * n) * scale
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = flip ? w - 1 - x : x
      const s = (y * sw + sx) * sc
      const d = offset + (y * w + x) * c
      for (let k = 0; k < c; k++)
        out[d + k] = (src[s + k] + Math.exp(0.5 * src[s + c + k]) * rng.normal()) * set.latentScale
    }
  }
}

export function assembleBatch(set: DitTrainingSet, indices: number[], rng: Rng): HostBatch {
  const [h, w, c] = set.modelShape
  const per = h * w * c
  const x0 = new Float32Array(indices.length * per)
  indices.forEach((item, r) => writeSample(set, item, rng, x0, r * per))
  return {indices, x0}
}

/**
 * Pixel-space normalisation: x' = (x - m_c) / (2 s_c) per channel, m_c and s_c the training set's
 * mean and standard deviation (x in [-1, 1]). Centring moves the data mean to 0, which is what a
 * DDPM must guess from pure noise at high t (an uncentred from-scratch model drifted to grey on
 * synthetic dermoscopy). Scaling by the spread matters as much: the earlier (1 + |m_c|) divisor left
 * the data with std ~0.16 in model units, so every timestep's SNR was ~40x below the schedule's
 * and samples came out as saturated noise (scripts/experiments/demo-dit-sweep.ts, GAIN). 2 s_c gives a
 * per-channel std of 0.5, like [-1, 1] images. Plays the role the VAE scaling factor plays in
 * latent space. clipRange = max |x'| over the set: the data range the samplers clip x0 to.
 */
export interface PixelNormalization {
  mean: number[]
  scale: number[]
  clipRange?: number
}

export function centrePixels(samples: Float32Array[], channels: number): PixelNormalization {
  const sum = new Float64Array(channels)
  const sumSq = new Float64Array(channels)
  let count = 0
  for (const s of samples) {
    for (let i = 0; i < s.length; i += channels)
      for (let k = 0; k < channels; k++) {
        sum[k] += s[i + k]
        sumSq[k] += s[i + k] * s[i + k]
      }
    count += s.length / channels
  }
  const n = Math.max(1, count)
  const mean = Array.from(sum, v => v / n)
  // a constant channel (std 0) keeps scale 1 rather than dividing by ~0
  const scale = mean.map((m, k) => {
    const std = Math.sqrt(Math.max(0, sumSq[k] / n - m * m))
    return std > 1e-4 ? 2 * std : 1
  })
  let clipRange = 0
  for (const s of samples) {
    for (let i = 0; i < s.length; i += channels) {
      for (let k = 0; k < channels; k++) {
        s[i + k] = (s[i + k] - mean[k]) / scale[k]
        clipRange = Math.max(clipRange, Math.abs(s[i + k]))
      }
    }
  }
  return {mean, scale, clipRange: Math.max(clipRange, 1e-3)}
}

/** Items of step `i`: consecutive slices of a per-epoch permutation seeded by (seed, epoch). */
export class EpochOrder {
  private cache = new Map<number, number[]>()
  constructor(
    readonly count: number,
    readonly makeRng: (epoch: number) => Rng
  ) {}

  itemsForStep(step: number, batchSize: number): number[] {
    const out: number[] = []
    for (let r = 0; r < batchSize; r++) {
      const k = step * batchSize + r
      const epoch = Math.floor(k / this.count)
      let perm = this.cache.get(epoch)
      if (!perm) {
        perm = this.makeRng(epoch).permutation(this.count)
        this.cache.set(epoch, perm)
        if (this.cache.size > 2) this.cache.delete(Math.min(...this.cache.keys()))
      }
      out.push(perm[k % this.count])
    }
    return out
  }
}
