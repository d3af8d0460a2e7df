// Eval-mode passes over a split: per-image validation Dice (the authors' metric, REFERENCE.md
// §3.5) and reconstruction L1, plus the per-image features written to features.safetensors.
import * as tf from '@tensorflow/tfjs'
import {diceScores} from '../../losses/dice.js'
import type {SDNet} from '../../models/sdnet/model.js'
import {gatherBatch, type VisualData} from './data.js'

/** Mean per-image Dice of the thresholded lesion channel, and mean L1 of the reconstruction from mu. */
export async function evaluateSplit(model: SDNet, data: VisualData, indices: number[], batchSize: number): Promise<{dice: number, l1: number}> {
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
    const scores = diceScores(await pred.data() as Float32Array, await mask.data() as Float32Array, idx.length)
    diceSum += scores.reduce((a, b) => a + b, 0)
    l1Sum += (await l1.data() as Float32Array).reduce((a, b) => a + b, 0)
    tf.dispose([pred, l1, x, mask])
  }
  return {dice: diceSum / indices.length, l1: l1Sum / indices.length}
}

/** Anatomy occupancy (fraction of pixels per one-hot channel) and style mu, per image, [N, 8] each. */
export async function extractFeatures(model: SDNet, data: VisualData, batchSize: number): Promise<{anatomy: Float32Array, style: Float32Array}> {
  const n = data.ids.length
  const k = model.config.anatomyChannels
  const zl = model.config.zLength
  const anatomy = new Float32Array(n * k)
  const style = new Float32Array(n * zl)
  for (let i = 0; i < n; i += batchSize) {
    const idx = Array.from({length: Math.min(batchSize, n - i)}, (_, j) => i + j)
    const {x, mask} = gatherBatch(data, idx)
    const [occ, mu] = tf.tidy(() => {
      const ctx = model.context(false)
      const a = model.anatomy(ctx, x)
      return [tf.mean(a, [1, 2]), model.encodeStyle(ctx, a, x).mu]
    })
    anatomy.set(await occ.data() as Float32Array, i * k)
    style.set(await mu.data() as Float32Array, i * zl)
    tf.dispose([occ, mu, x, mask])
  }
  return {anatomy, style}
}
