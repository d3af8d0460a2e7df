// In-memory labelled image sets for the classifier and the per-epoch sample order:
// plain shuffles, or class-balanced sampling (each draw picks a class uniformly, then an image
// of it), plus the flips/crops augmentation. Orders and augmentations derive from
// (seed, epoch, step) only, so a resumed run sees exactly the batches an uninterrupted one does.
import * as tf from '@tensorflow/tfjs'
import {Rng, deriveSeed} from '../../util/rng.js'

export interface LabeledSet {
  /** NHWC [n, size, size, 3] in [0,1] */
  images: Float32Array
  size: number
  labels: Int32Array
  ids: string[]
}

export function setLength(s: LabeledSet): number {
  return s.labels.length
}

export function concatSets(a: LabeledSet, b: LabeledSet): LabeledSet {
  if (a.size !== b.size) throw new Error(`image sizes differ: ${a.size} vs ${b.size}`)
  const images = new Float32Array(a.images.length + b.images.length)
  images.set(a.images)
  images.set(b.images, a.images.length)
  const labels = new Int32Array(a.labels.length + b.labels.length)
  labels.set(a.labels)
  labels.set(b.labels, a.labels.length)
  return {images, size: a.size, labels, ids: [...a.ids, ...b.ids]}
}

export function subset(s: LabeledSet, idx: number[]): LabeledSet {
  const px = s.size * s.size * 3
  const images = new Float32Array(idx.length * px)
  idx.forEach((i, k) => images.set(s.images.subarray(i * px, (i + 1) * px), k * px))
  return {images, size: s.size, labels: Int32Array.from(idx, i => s.labels[i]), ids: idx.map(i => s.ids[i])}
}

/** Sample order of one epoch (length n). */
export function epochOrder(
  s: LabeledSet,
  numClasses: number,
  seed: number,
  epoch: number,
  balanced: boolean
): Int32Array {
  const n = setLength(s)
  const rng = new Rng(deriveSeed(seed, 'epoch', epoch))
  if (!balanced) return Int32Array.from(rng.permutation(n))
  const byClass: number[][] = Array.from({length: numClasses}, () => [])
  s.labels.forEach((y, i) => byClass[y].push(i))
  const present = byClass.map((_, c) => c).filter(c => byClass[c].length > 0)
  return Int32Array.from({length: n}, () => rng.pick(byClass[rng.pick(present)]))
}

/** Batch tensor of the given rows, with random horizontal/vertical flips and a random crop
 *  (reflect-pad by size/8, crop back) when augment is on. Returns [B,S,S,3] and labels. */
export function makeBatch(
  s: LabeledSet,
  rows: ArrayLike<number>,
  augment: boolean,
  seed: number,
  step: number
): {x: tf.Tensor4D; y: tf.Tensor1D} {
  const S = s.size,
    px = S * S * 3
  const out = new Float32Array(rows.length * px)
  const rng = new Rng(deriveSeed(seed, 'augment', step))
  const pad = Math.max(1, Math.round(S / 8))
  for (let b = 0; b < rows.length; b++) {
    const src = s.images.subarray(rows[b] * px, (rows[b] + 1) * px)
    if (!augment) {
      out.set(src, b * px)
      continue
    }
    const flipH = rng.uniform() < 0.5,
      flipV = rng.uniform() < 0.5
    const dy = rng.int(2 * pad + 1) - pad,
      dx = rng.int(2 * pad + 1) - pad
    const reflect = (v: number) => (v < 0 ? -v : v >= S ? 2 * S - 2 - v : v)
    for (let y = 0; y < S; y++) {
      const sy = reflect((flipV ? S - 1 - y : y) + dy)
      for (let x = 0; x < S; x++) {
        const sx = reflect((flipH ? S - 1 - x : x) + dx)
        const o = b * px + (y * S + x) * 3,
          i = (sy * S + sx) * 3
        out[o] = src[i]
        out[o + 1] = src[i + 1]
        out[o + 2] = src[i + 2]
      }
    }
  }
  return {
    x: tf.tensor4d(out, [rows.length, S, S, 3]),
    y: tf.tensor1d(
      Int32Array.from(rows, r => s.labels[r]),
      'int32'
    )
  }
}
