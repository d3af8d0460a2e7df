// Style-swap check (paper §2.2: anatomy and style are disentangled): decode image A's anatomy
// with image B's style code. The colour statistics should move from A's toward B's, while the
// anatomy, judged by segmenting the swapped reconstruction, stays A's.
import * as tf from '@tensorflow/tfjs'
import {iou} from '../../losses/dice.js'
import type {SDNet} from '../../models/sdnet/model.js'
import {gatherBatch, type VisualData} from './data.js'

export interface StyleSwapFigures {
  pairs: number
  /** mean over pairs of <m(AB) - m(AA), m(B) - m(A)> / |m(B) - m(A)|^2 for mean RGB m: 0 = A's colours kept, 1 = B's reached */
  colourShiftTowardB: number
  /** fraction of pairs whose swapped mean colour is closer to B's reconstruction than A's reconstruction is */
  closerToB: number
  /** mean IoU of the lesion mask predicted on the swapped reconstruction vs the mask predicted on A */
  maskIoUWithA: number
  /** the same IoU against A's ground-truth mask */
  maskIoUWithATruth: number
  /** baseline: IoU of the mask predicted on A's own reconstruction (decoded with A's code) vs the one predicted on A */
  maskIoUSelfReconstruction: number
  /** the swap alone: IoU of the mask on the swapped decode vs the mask on A's own decode (same decoder, only the style code differs) */
  maskIoUSwapVsSelf: number
}

function meanRgb(t: Float32Array, b: number, px: number): number[] {
  const m = [0, 0, 0]
  for (let i = 0; i < px; i++) for (let c = 0; c < 3; c++) m[c] += t[(b * px + i) * 3 + c]
  return m.map(v => v / px)
}

const sub = (a: number[], b: number[]) => a.map((v, i) => v - b[i])
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0)

/** Per-image min-max to [-1, 1] over all pixels and channels, as minMaxNormalize does for inputs. */
function minMaxPerImage(x: tf.Tensor4D): tf.Tensor4D {
  const lo = x.min([1, 2, 3], true)
  const span = x.max([1, 2, 3], true).sub(lo)
  return x.sub(lo).div(span.maximum(1e-8)).mul(2).sub(1) as tf.Tensor4D
}

/** Pairs image i with image (i + 1) of `indices` (B = the next one), in eval mode. */
export async function measureStyleSwap(
  model: SDNet,
  data: VisualData,
  indices: number[],
  batchSize = 8
): Promise<StyleSwapFigures> {
  const px = data.size * data.size
  let shift = 0
  let closer = 0
  let iouPred = 0
  let iouTruth = 0
  let iouSelf = 0
  let iouSwapSelf = 0
  let pairs = 0
  for (let start = 0; start < indices.length; start += batchSize) {
    const a = indices.slice(start, start + batchSize)
    if (a.length < 2) break
    const bOrder = a.map((_, j) => (j + 1) % a.length) // B = next image in the batch
    const {x, mask} = gatherBatch(data, a)
    const [recoAA, recoAB, maskA, maskAB, maskAA] = tf.tidy(() => {
      const ctx = model.context(false)
      const anat = model.anatomy(ctx, x)
      const {mu} = model.encodeStyle(ctx, anat, x)
      const muB = tf.gather(mu, tf.tensor1d(bOrder, 'int32')) as tf.Tensor2D
      const aa = model.decode(ctx, anat, mu)
      const ab = model.decode(ctx, anat, muB)
      const lesion = (img: tf.Tensor4D) =>
        model.segment(ctx, model.anatomy(ctx, img)).slice([0, 0, 0, 1], [-1, -1, -1, 1]).greater(0.5).toFloat()
      // a decoded image is segmented as every image is: min-max normalised per image first
      // (src/stages/visual/data.ts, the segmenter tool). The raw decode has less contrast than
      // any training input: on the synth-bench SDNet (4 epochs) IoU with A read 0.46 raw, 0.70
      // normalised; on the 1-epoch demo SDNet 0.451 and 0.454.
      return [aa, ab, lesion(x), lesion(minMaxPerImage(ab)), lesion(minMaxPerImage(aa))]
    })
    const [vAA, vAB, vMA, vMAB, vTruth, vMAA] = await Promise.all(
      [recoAA, recoAB, maskA, maskAB, mask, maskAA].map(t => t.data() as Promise<Float32Array>)
    )
    for (let j = 0; j < a.length; j++) {
      const k = bOrder[j]
      const mA = meanRgb(vAA, j, px)
      const mB = meanRgb(vAA, k, px)
      const mAB = meanRgb(vAB, j, px)
      const span = sub(mB, mA)
      const norm = dot(span, span)
      if (norm > 1e-8) shift += dot(sub(mAB, mA), span) / norm
      const dAB = Math.sqrt(dot(sub(mAB, mB), sub(mAB, mB)))
      const dAA = Math.sqrt(norm)
      if (dAB < dAA) closer++
      iouPred += iou(vMAB.subarray(j * px, (j + 1) * px), vMA.subarray(j * px, (j + 1) * px))
      iouTruth += iou(vMAB.subarray(j * px, (j + 1) * px), vTruth.subarray(j * px, (j + 1) * px))
      iouSelf += iou(vMAA.subarray(j * px, (j + 1) * px), vMA.subarray(j * px, (j + 1) * px))
      iouSwapSelf += iou(vMAB.subarray(j * px, (j + 1) * px), vMAA.subarray(j * px, (j + 1) * px))
      pairs++
    }
    tf.dispose([recoAA, recoAB, maskA, maskAB, maskAA, x, mask])
  }
  const n = Math.max(1, pairs)
  return {
    pairs,
    colourShiftTowardB: shift / n,
    closerToB: closer / n,
    maskIoUWithA: iouPred / n,
    maskIoUWithATruth: iouTruth / n,
    maskIoUSelfReconstruction: iouSelf / n,
    maskIoUSwapVsSelf: iouSwapSelf / n
  }
}
