// Dice loss and score for binary masks (docs/REFERENCE.md §3.4).
import * as tf from '@tensorflow/tfjs'

export const DICE_SMOOTH = 0.1

/**
 * 1 - (2 * sum(p * g) + s) / (sum(p) + sum(g) + s), the sums over the whole batch flattened:
 * one global Dice per batch, as the authors compute it (not a mean of per-image Dice).
 */
export function globalDiceLoss(pred: tf.Tensor, target: tf.Tensor, smooth = DICE_SMOOTH): tf.Scalar {
  const inter = tf.sum(pred.mul(target))
  const total = tf.sum(pred).add(tf.sum(target))
  return tf.scalar(1).sub(inter.mul(2).add(smooth).div(total.add(smooth))) as tf.Scalar
}

/** Per-image Dice score of binary maps [B, ...] (thresholded prediction), smoothing as the loss. */
export function diceScores(
  pred: Float32Array | Uint8Array,
  target: Float32Array | Uint8Array,
  batch: number,
  smooth = DICE_SMOOTH
): number[] {
  const per = pred.length / batch
  const out: number[] = []
  for (let b = 0; b < batch; b++) {
    let inter = 0
    let sp = 0
    let sg = 0
    for (let i = b * per; i < (b + 1) * per; i++) {
      inter += pred[i] * target[i]
      sp += pred[i]
      sg += target[i]
    }
    out.push((2 * inter + smooth) / (sp + sg + smooth))
  }
  return out
}

/** Intersection over union of two binary maps (1 when both are empty). */
export function iou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let inter = 0
  let union = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i] > 0.5
    const y = b[i] > 0.5
    if (x && y) inter++
    if (x || y) union++
  }
  return union === 0 ? 1 : inter / union
}
