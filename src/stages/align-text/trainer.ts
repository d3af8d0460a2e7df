// Trains the text disentangler (docs/REFERENCE.md §4.4): loss = alignWeight * ([1 - cos(t_a, a_vec)]
// + [1 - cos(t_m, mu)]) + reconWeight * MSE(E_hat, E), CosineEmbeddingLoss with target +1
// (PyTorch's form, eps 1e-12 inside the norms); Adam, batch 32, shuffled each epoch.
// Departures, on purpose: seeded (the authors' run has no seed), and checkpoints hold the
// weights, Adam moments and curves so a resumed run continues bit for bit. The shuffle order
// and the dropout masks are functions of (seed, epoch, step), so no RNG state needs saving.
import * as tf from '@tensorflow/tfjs'
import {AdamW} from '../../train/adamw.js'
import {CheckpointManager} from '../../train/checkpoint.js'
import {trainLoop} from '../../train/loop.js'
import {Rng, deriveSeed} from '../../util/rng.js'
import {log} from '../../util/log.js'
import type {ParamMap} from '../../models/params.js'
import {initTextDisentangler, textDisentanglerForward, type TextDisentanglerConfig} from '../../models/text-disentangler.js'

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
}

export interface TextEpochRecord { epoch: number, step: number, loss: number, align: number, reconstruction: number }
interface TrainerState { epochs: TextEpochRecord[], running: {loss: number, align: number, reconstruction: number, count: number} }

export interface TextTrainResult { params: ParamMap, history: TextEpochRecord[], stepsDone: number, totalSteps: number, lastCheckpoint: string | null }

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

export async function trainTextDisentangler(data: AlignmentData, trainIdx: number[], opts: TextTrainOptions): Promise<TextTrainResult> {
  if (trainIdx.length === 0) throw new Error('align-text: no training captions')
  const c = opts.model
  const stepsPerEpoch = Math.ceil(trainIdx.length / opts.batchSize)
  const totalSteps = stepsPerEpoch * opts.epochs
  const params = initTextDisentangler(c, opts.seed)
  const optimizer = new AdamW(params, {lr: opts.lr, weightDecay: 0})
  const manager = new CheckpointManager(opts.checkpointDir, opts.keepCheckpoints)
  const state: TrainerState = {epochs: [], running: {loss: 0, align: 0, reconstruction: 0, count: 0}}

  let startStep = 0
  const resumeFrom = await manager.resolve(opts.resume === false ? undefined : opts.resume)
  if (resumeFrom) {
    const ckpt = await manager.load(resumeFrom)
    for (const [name, v] of params) {
      const host = ckpt.params.get(name)
      if (!host) throw new Error(`${resumeFrom}: checkpoint lacks ${name}`)
      const value = tf.tensor(host.data as Float32Array, host.shape, 'float32')
      v.assign(value)
      value.dispose()
    }
    optimizer.importState(ckpt.optimizer)
    Object.assign(state, {epochs: ckpt.state.epochs, running: ckpt.state.running})
    startStep = ckpt.step
    log.info(`align-text: resumed from ${resumeFrom} at step ${startStep}`)
  }

  const nameOf = new Map<string, string>()
  for (const [name, v] of params) nameOf.set(v.name, name)
  const varList = [...params.values()]
  const orderOf = (epoch: number) => new Rng(deriveSeed(opts.seed, 'align-text-shuffle', epoch)).permutation(trainIdx.length).map(k => trainIdx[k])
  let order: number[] = []
  let orderEpoch = -1

  const step = async (i: number): Promise<number> => {
    const epoch = Math.floor(i / stepsPerEpoch)
    if (orderEpoch !== epoch) { order = orderOf(epoch); orderEpoch = epoch }
    const batch = order.slice((i % stepsPerEpoch) * opts.batchSize, (i % stepsPerEpoch + 1) * opts.batchSize)
    const e = tf.tensor2d(rows(data.embeddings, c.embedDim, batch), [batch.length, c.embedDim])
    const a = tf.tensor2d(rows(data.anatomy, c.anatomyDim, batch), [batch.length, c.anatomyDim])
    const m = tf.tensor2d(rows(data.style, c.styleDim, batch), [batch.length, c.styleDim])
    const seeds: [number, number] = [deriveSeed(opts.seed, 'align-text-dropout', i, 0), deriveSeed(opts.seed, 'align-text-dropout', i, 1)]
    let parts: tf.Scalar[] = []
    const {value, grads} = tf.variableGrads(() => {
      const out = textDisentanglerForward(params, c, e, {training: true, dropoutSeeds: seeds})
      const align = cosineEmbeddingLoss(out.anatomy, a).add(cosineEmbeddingLoss(out.style, m)) as tf.Scalar
      const reconstruction = tf.losses.meanSquaredError(e, out.reconstruction) as tf.Scalar
      parts = [tf.keep(align), tf.keep(reconstruction)]
      return align.mul(opts.alignWeight).add(reconstruction.mul(opts.reconWeight)) as tf.Scalar
    }, varList)
    const named = new Map<string, tf.Tensor>()
    for (const [varName, g] of Object.entries(grads)) named.set(nameOf.get(varName)!, g)
    optimizer.applyGradients(named, opts.lr)
    const [loss, align, reconstruction] = [value, ...parts].map(t => t.dataSync()[0])
    tf.dispose([value, ...parts, e, a, m, ...named.values()])
    const r = state.running
    r.loss += loss; r.align += align; r.reconstruction += reconstruction; r.count += 1
    if ((i + 1) % stepsPerEpoch === 0) {
      state.epochs.push({epoch: epoch + 1, step: i + 1, loss: r.loss / r.count, align: r.align / r.count, reconstruction: r.reconstruction / r.count})
      state.running = {loss: 0, align: 0, reconstruction: 0, count: 0}
    }
    return loss
  }

  const checkpoint = async (stepsDone: number): Promise<string> =>
    manager.save(stepsDone, {params, optimizer: await optimizer.exportState(), state})

  const runTo = Math.min(totalSteps, opts.stopAfterSteps ?? totalSteps)
  const {lastCheckpoint, stepsDone} = startStep >= runTo
    ? {lastCheckpoint: resumeFrom, stepsDone: startStep}
    : await trainLoop({label: 'align-text', totalSteps: runTo, startStep, checkpointEvery: opts.checkpointEvery, step, checkpoint, lastCheckpoint: resumeFrom})
  optimizer.dispose()
  return {params, history: state.epochs, stepsDone, totalSteps, lastCheckpoint}
}

/** Eval-mode head outputs (dropout off) for every row, [n*anatomyDim] and [n*styleDim]. */
export function textFeatures(params: Map<string, tf.Tensor>, c: TextDisentanglerConfig, embeddings: Float32Array, n: number, batchSize = 256): {anatomy: Float32Array, style: Float32Array} {
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
