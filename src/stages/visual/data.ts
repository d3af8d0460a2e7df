// The visual stage's in-memory dataset: every image resized to the model size, normalised
// per image, with its binary mask, id and split. Batches are gathered from these arrays.
import * as tf from '@tensorflow/tfjs'
import type {SplitName} from '../../data/split.js'

export type {SplitName}

export interface VisualData {
  size: number
  ids: string[]
  splits: SplitName[]
  /** [N, size, size, 3], each image min-max normalised to [-1, 1] (docs/REFERENCE.md §3.1) */
  images: Float32Array
  /** [N, size, size], 0 or 1 */
  masks: Float32Array
}

export function indicesOf(data: VisualData, split: SplitName): number[] {
  const out: number[] = []
  data.splits.forEach((s, i) => {
    if (s === split) out.push(i)
  })
  return out
}

/** Stacks the images and masks at `indices` into tensors [B,S,S,3] and [B,S,S,1]. */
export function gatherBatch(data: VisualData, indices: number[]): {x: tf.Tensor4D; mask: tf.Tensor4D} {
  const s = data.size
  const px = s * s
  const x = new Float32Array(indices.length * px * 3)
  const m = new Float32Array(indices.length * px)
  indices.forEach((idx, b) => {
    x.set(data.images.subarray(idx * px * 3, (idx + 1) * px * 3), b * px * 3)
    m.set(data.masks.subarray(idx * px, (idx + 1) * px), b * px)
  })
  return {x: tf.tensor4d(x, [indices.length, s, s, 3]), mask: tf.tensor4d(m, [indices.length, s, s, 1])}
}

/** Batches of an epoch's order, keeping the short tail (the authors drop 1 in bs+1 samples and the tail, docs/REFERENCE.md §3.5). */
export function batchesOf(order: number[], batchSize: number): number[][] {
  const out: number[][] = []
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize))
  return out
}
