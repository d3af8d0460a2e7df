// Trains the text disentangler (docs/REFERENCE.md §4.4): loss = alignWeight * ([1 - cos(t_a, a_vec)]
// + [1 - cos(t_m, mu)]) + reconWeight * MSE(E_hat, E), CosineEmbeddingLoss with target +1
// (PyTorch's form, eps 1e-12 inside the norms); Adam, batch 32, shuffled each epoch.
// Departures, on purpose: seeded (the authors' run has no seed), and checkpoints hold the
// weights, Adam moments and curves so a resumed run continues bit for bit (src/train/trainer.ts).
// The shuffle order and the dropout masks are functions of (seed, epoch, step), so no RNG state
// needs saving.
import * as tf from '@tensorflow/tfjs'
import {AdamW} from '../../train/adamw.js'
import {gradientsByParamName} from '../../train/gradients.js'
import {loadVariables, runTrainer, type StepOutcome} from '../../train/trainer.js'
import {Rng, deriveSeed} from '../../util/rng.js'
import type {ParamMap} from '../../models/params.js'
import {
  initTextDisentangler,
  textDisentanglerForward,
  type TextDisentanglerConfig
} from '../../models/text-disentangler.js'

export interface AlignmentData {
  /** text embeddings E [n*embedDim] */
  embeddings: Float32Array
  /** visual anatomy vector a_vec [n*anatomyDim] and style mu [n*styleDim] */
  anatomy: Float32Array
  style: Float32Array
  n: number
}

export interface TextTrainOptions {
  model: TextDisentanglerConfig
  seed: number
  epochs: number
  batchSize: number
  lr: number
  alignWeight: number
  reconWeight: number
  checkpointDir: string
  checkpointEvery: number
  keepCheckpoints: number
  resume: boolean | string
  /** stop (with a checkpoint) after this many steps, as an interruption would; tests use it */
  stopAfterSteps?: number
  /** test hook: end after this many steps without their checkpoint, as kill -9 would */
  crashAfter?: number
  /** per-step losses (absent: none) */
  losses?: string
  /** more of what a checkpoint must match beside model, seed, batch and loss weights (e.g. the captions) */
  identity?: Record<string, unknown>
}

export interface TextEpochRecord {
  epoch: number
  step: number
  loss: number
  align: number
  reconstruction: number
}
/** Training state saved in each checkpoint's state.json: the per-epoch curve and the running sums of the current epoch. */
interface TextState {
  epochs: TextEpochRecord[]
  running: {loss: number; align: number; reconstruction: number; count: number}
}

export interface TextTrainResult {
  params: ParamMap
  history: TextEpochRecord[]
  stepsDone: number
  totalSteps: number
  lastCheckpoint: string | null
}

/** mean over rows of 1 - x.y / sqrt((|x|^2 + eps)(|y|^2 + eps)), torch.nn.CosineEmbeddingLoss(target=+1) */
export function cosineEmbeddingLoss(x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const eps = 1e-12
    const dot = x.mul(y).sum(1)
    const denom = x.square().sum(1).add(eps).mul(y.square().sum(1).add(eps)).sqrt()
    return tf.scalar(1).sub(dot.div(denom)).mean() as tf.Scalar
  })
}

function rows(data: Float32Array, width: number, idx: number[]): Float32Array {
  const out = new Float32Array(idx.length * width)
  idx.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width))
  return out
}

export async function trainTextDisentangler(
  data: AlignmentData,
  trainIdx: number[],
  opts: TextTrainOptions
): Promise<TextTrainResult> {
  if (trainIdx.length === 0) throw new Error('align-text: no training captions')
  const c = opts.model
  const stepsPerEpoch = Math.ceil(trainIdx.length / opts.batchSize)
  const totalSteps = stepsPerEpoch * opts.epochs
  const params = initTextDisentangler(c, opts.seed)
  const optimizer = new AdamW(params, {lr: opts.lr, weightDecay: 0})
  let state: TextState = {epochs: [], running: {loss: 0, align: 0, reconstruction: 0, count: 0}}

  const varList = [...params.values()]
  const orderOf = (epoch: number) =>
    new Rng(deriveSeed(opts.seed, 'align-text-shuffle', epoch)).permutation(trainIdx.length).map(k => trainIdx[k])
  let order: number[] = []
  let orderEpoch = -1

  const step = async (i: number): Promise<StepOutcome> => {
    const epoch = Math.floor(i / stepsPerEpoch)
    if (orderEpoch !== epoch) {
      order = orderOf(epoch)
      orderEpoch = epoch
    }
    const batch = order.slice((i % stepsPerEpoch) * opts.batchSize, ((i % stepsPerEpoch) + 1) * opts.batchSize)
    const e = tf.tensor2d(rows(data.embeddings, c.embedDim, batch), [batch.length, c.embedDim])
    const a = tf.tensor2d(rows(data.anatomy, c.anatomyDim, batch), [batch.length, c.anatomyDim])
    const m = tf.tensor2d(rows(data.style, c.styleDim, batch), [batch.length, c.styleDim])
    const seeds: [number, number] = [
      deriveSeed(opts.seed, 'align-text-dropout', i, 0),
      deriveSeed(opts.seed, 'align-text-dropout', i, 1)
    ]
    let parts: tf.Scalar[] = []
    const {value, grads} = tf.variableGrads(() => {
      const out = textDisentanglerForward(params, c, e, {training: true, dropoutSeeds: seeds})
      const anatomy = cosineEmbeddingLoss(out.anatomy, a)
      const style = cosineEmbeddingLoss(out.style, m)
      const align = anatomy.add(style) as tf.Scalar
      const reconstruction = tf.losses.meanSquaredError(e, out.reconstruction) as tf.Scalar
      parts = [tf.keep(align), tf.keep(reconstruction), tf.keep(anatomy), tf.keep(style)]
      return align.mul(opts.alignWeight).add(reconstruction.mul(opts.reconWeight)) as tf.Scalar
    }, varList)
    const named = gradientsByParamName(params, grads)
    optimizer.applyGradients(named, opts.lr)
    const [loss, align, reconstruction, anatomy, style] = [value, ...parts].map(t => t.dataSync()[0])
    tf.dispose([value, ...parts, e, a, m, ...named.values()])
    const r = state.running
    r.loss += loss
    r.align += align
    r.reconstruction += reconstruction
    r.count += 1
    if ((i + 1) % stepsPerEpoch === 0) {
      state.epochs.push({
        epoch: epoch + 1,
        step: i + 1,
        loss: r.loss / r.count,
        align: r.align / r.count,
        reconstruction: r.reconstruction / r.count
      })
      state.running = {loss: 0, align: 0, reconstruction: 0, count: 0}
    }
    return {loss, lr: opts.lr, terms: {anatomy, style, reconstruction}}
  }

  const run = await runTrainer<TextState>({
    label: 'align-text',
    totalSteps,
    optimizer,
    step,
    checkpoints: {dir: opts.checkpointDir, every: opts.checkpointEvery, keep: opts.keepCheckpoints},
    resume: opts.resume,
    losses: opts.losses ?? null,
    stopAfterSteps: opts.stopAfterSteps,
    crashAfter: opts.crashAfter,
    // more epochs or another learning rate may follow
    identity: {
      model: c,
      seed: opts.seed,
      batchSize: opts.batchSize,
      alignWeight: opts.alignWeight,
      reconWeight: opts.reconWeight,
      ...opts.identity
    },
    tensors: () => params,
    loadTensors: (saved, path) => loadVariables(params, saved, path),
    state: () => state,
    loadState: saved => {
      state = {epochs: saved.epochs, running: saved.running}
    }
  })
  optimizer.dispose()
  return {params, history: state.epochs, stepsDone: run.stepsDone, totalSteps, lastCheckpoint: run.lastCheckpoint}
}

/** Eval-mode head outputs (dropout off) for every row, [n*anatomyDim] and [n*styleDim]. */
export function textFeatures(
  params: Map<string, tf.Tensor>,
  c: TextDisentanglerConfig,
  embeddings: Float32Array,
  n: number,
  batchSize = 256
): {anatomy: Float32Array; style: Float32Array} {
  const anatomy = new Float32Array(n * c.anatomyDim)
  const style = new Float32Array(n * c.styleDim)
  for (let s = 0; s < n; s += batchSize) {
    const b = Math.min(batchSize, n - s)
    tf.tidy(() => {
      const e = tf.tensor2d(embeddings.subarray(s * c.embedDim, (s + b) * c.embedDim), [b, c.embedDim])
      const out = textDisentanglerForward(params, c, e, {training: false})
      anatomy.set(out.anatomy.dataSync() as Float32Array, s * c.anatomyDim)
      style.set(out.style.dataSync() as Float32Array, s * c.styleDim)
    })
  }
  return {anatomy, style}
}
