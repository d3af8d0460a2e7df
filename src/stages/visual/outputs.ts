// What train-visual leaves in <run>/visual: the weights (PyTorch names and layout, config in the
// metadata), per-image features (DEVELOPING.md contract), a reconstruction / style-swap grid,
// and loss / Dice curves.
import * as tf from '@tensorflow/tfjs'
import {writeFileAtomic} from '../../io/atomic.js'
import {writeSafetensors} from '../../io/safetensors.js'
import {encodePng} from '../../io/images.js'
import type {SDNet} from '../../models/sdnet/model.js'
import {linePlotPng} from '../../util/plot.js'
import {gatherBatch, type VisualData} from './data.js'
import type {AnatomyVectorKind} from './anatomy-descriptors.js'
import {extractFeatures} from './evaluate.js'
import type {TrainHistory} from './trainer.js'
import {visualGridColumns} from './grid-columns.js'

export async function writeModel(path: string, model: SDNet, extra: Record<string, unknown> = {}): Promise<void> {
  await writeSafetensors(path, await model.stateDict(), {
    format: 'pt',
    config: JSON.stringify({...model.config, ...extra})
  })
}

/** anatomy [N, 8] occupancy or [N, 24] occupancy + shape (visual.anatomyVector), style [N, 8] (mu); ids and splits in the metadata. */
export async function writeFeatures(
  path: string,
  model: SDNet,
  data: VisualData,
  batchSize: number,
  kind: AnatomyVectorKind = 'occupancy'
): Promise<void> {
  const {anatomy, style, anatomyDim, styleDim} = await extractFeatures(model, data, batchSize, kind)
  const n = data.ids.length
  await writeSafetensors(
    path,
    {
      anatomy: {dtype: 'F32', shape: [n, anatomyDim], data: anatomy},
      style: {dtype: 'F32', shape: [n, styleDim], data: style}
    },
    {ids: JSON.stringify(data.ids), splits: JSON.stringify(data.splits), anatomyVector: kind}
  )
}

// one colour per anatomy channel for the grid
const ANATOMY_COLOURS = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230]
]

const toByte = (v: number) => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)))

/**
 * A PNG grid, one row per image, the columns of visualGridColumns: input | anatomy channels
 * coloured | predicted mask | reconstruction | reconstruction with the next row's style code.
 * Tiles are scaled by `zoom`.
 */
export async function writeGrid(
  path: string,
  model: SDNet,
  data: VisualData,
  indices: number[],
  zoom = 2
): Promise<void> {
  const rows = indices.length
  const s = data.size
  const cols = visualGridColumns.length
  const {x, mask} = gatherBatch(data, indices)
  const [anat, lesion, reco, swapped] = tf.tidy(() => {
    const ctx = model.context(false)
    const a = model.anatomy(ctx, x)
    const {mu} = model.encodeStyle(ctx, a, x)
    const next = tf.tensor1d(
      indices.map((_, i) => (i + 1) % rows),
      'int32'
    )
    return [
      tf.argMax(a, -1),
      model.segment(ctx, a).slice([0, 0, 0, 1], [-1, -1, -1, 1]),
      model.decode(ctx, a, mu),
      model.decode(ctx, a, tf.gather(mu, next) as tf.Tensor2D)
    ]
  })
  const [vx, va, vl, vr, vs] = await Promise.all([x, anat, lesion, reco, swapped].map(t => t.data()))
  tf.dispose([x, mask, anat, lesion, reco, swapped])
  const W = cols * s
  const out = new Uint8Array(rows * s * W * 3)
  const put = (row: number, col: number, i: number, rgb: number[]) => {
    const y = Math.floor(i / s)
    const xx = i % s
    const o = ((row * s + y) * W + col * s + xx) * 3
    out[o] = rgb[0]
    out[o + 1] = rgb[1]
    out[o + 2] = rgb[2]
  }
  const px = s * s
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < px; i++) {
      const p = r * px + i
      const rgbOf = (v: ArrayLike<number>) => [toByte(v[p * 3]), toByte(v[p * 3 + 1]), toByte(v[p * 3 + 2])]
      put(r, 0, i, rgbOf(vx))
      put(r, 1, i, ANATOMY_COLOURS[va[p] % ANATOMY_COLOURS.length])
      const m = vl[p] > 0.5 ? 255 : 0
      put(r, 2, i, [m, m, m])
      put(r, 3, i, rgbOf(vr))
      put(r, 4, i, rgbOf(vs))
    }
  }
  const png = await encodePng(out, W, rows * s, 3, {zoom})
  await writeFileAtomic(path, png)
}

/** loss-curves.png (training terms per step) and dice-curve.png (validation Dice per epoch). */
export async function writeCurves(
  to: {lossCurves: string; diceCurve: string},
  history: TrainHistory
): Promise<string[]> {
  const terms = ['loss', 'reconstruction', 'dice', 'regression', 'kl'] as const
  const lossPng = await linePlotPng(
    terms.map(t => ({name: t, points: history.steps.map(s => [s.step, s[t]] as [number, number])})),
    {title: 'train-visual: training loss terms (unweighted)', xLabel: 'step', yLabel: 'value', logY: true}
  )
  const dicePng = await linePlotPng(
    [
      {name: 'val Dice', points: history.epochs.map(e => [e.step, e.valDice] as [number, number])},
      {name: 'train 1 - Dice loss', points: history.steps.map(s => [s.step, 1 - s.dice] as [number, number])}
    ],
    {title: 'train-visual: Dice', xLabel: 'step', yLabel: 'Dice', yRange: [0, 1]}
  )
  const paths = [to.lossCurves, to.diceCurve]
  await writeFileAtomic(paths[0], lossPng)
  await writeFileAtomic(paths[1], dicePng)
  return paths
}
