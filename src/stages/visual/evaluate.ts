// Eval-mode passes over a split: per-image validation Dice (the authors' metric, docs/REFERENCE.md
// §3.5) and reconstruction L1, plus the per-image features written to features.safetensors.
// The one-hot map is exactly one-hot in eval mode (argmax), so its argmax is the label map.
import * as tf from '@tensorflow/tfjs'
import {diceScores} from '../../losses/dice.js'
import type {SDNet} from '../../models/sdnet/model.js'
import {anatomyVector, anatomyVectorLength, type AnatomyVectorKind} from './anatomy-descriptors.js'
import {gatherBatch, type VisualData} from './data.js'

/** Mean per-image Dice of the thresholded lesion channel, and mean L1 of the reconstruction from mu. */
export async function evaluateSplit(
  model: SDNet,
  data: VisualData,
  indices: number[],
  batchSize: number
): Promise<{dice: number; l1: number}> {
  let diceSum = 0
  let l1Sum = 0
  for (let i = 0; i < indices.length; i += batchSize) {
    const idx = indices.slice(i, i + batchSize)
    const {x, mask} = gatherBatch(data, idx)
    const [pred, l1] = tf.tidy(() => {
      const out = model.forward(model.context(false), x)
      const lesion = out.seg.slice([0, 0, 0, 1], [-1, -1, -1, 1]).greater(0.5).toFloat()
      return [lesion, tf.mean(tf.abs(out.reco.sub(x)), [1, 2, 3])]
    })
    const scores = diceScores((await pred.data()) as Float32Array, (await mask.data()) as Float32Array, idx.length)
    diceSum += scores.reduce((a, b) => a + b, 0)
    l1Sum += ((await l1.data()) as Float32Array).reduce((a, b) => a + b, 0)
    tf.dispose([pred, l1, x, mask])
  }
  return {dice: diceSum / indices.length, l1: l1Sum / indices.length}
}

/**
 * Per image: the anatomy vector of the deterministic one-hot map (`kind`, anatomy-descriptors.ts;
 * [N, K] occupancy or [N, 3K] occupancy + shape) and style mu [N, zLength].
 */
export async function extractFeatures(
  model: SDNet,
  data: VisualData,
  batchSize: number,
  kind: AnatomyVectorKind = 'occupancy'
): Promise<{anatomy: Float32Array; style: Float32Array; anatomyDim: number; styleDim: number}> {
  const n = data.ids.length
  const k = model.config.anatomyChannels
  const zl = model.config.zLength
  const ad = anatomyVectorLength(kind, k)
  const anatomy = new Float32Array(n * ad)
  const style = new Float32Array(n * zl)
  for (let i = 0; i < n; i += batchSize) {
    const idx = Array.from({length: Math.min(batchSize, n - i)}, (_, j) => i + j)
    const {x, mask} = gatherBatch(data, idx)
    const [labels, mu] = tf.tidy(() => {
      const ctx = model.context(false)
      const a = model.anatomy(ctx, x)
      return [tf.argMax(a, -1), model.encodeStyle(ctx, a, x).mu]
    })
    const [, h, w] = labels.shape
    const host = (await labels.data()) as Int32Array
    idx.forEach((_, j) =>
      anatomy.set(anatomyVector(host.subarray(j * h * w, (j + 1) * h * w), h, w, k, kind), (i + j) * ad)
    )
    style.set((await mu.data()) as Float32Array, i * zl)
    tf.dispose([labels, mu, x, mask])
  }
  return {anatomy, style, anatomyDim: ad, styleDim: zl}
}
