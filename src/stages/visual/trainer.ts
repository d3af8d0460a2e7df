// Trains SDNet (docs/REFERENCE.md §3.4-3.5): Adam (0.5, 0.999), ReduceLROnPlateau on validation
// Dice (max, patience 5, factor 0.1), every sample used each epoch (the authors' dropped
// samples are not reproduced). Checkpoints hold weights + BN statistics, Adam moments, the
// scheduler, the RNG, the epoch's data order and the curves, so a resumed run is identical.
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {AdamW} from '../../train/adamw.js'
import {CheckpointManager} from '../../train/checkpoint.js'
import {trainLoop} from '../../train/loop.js'
import {ReduceLROnPlateau, type PlateauState} from '../../train/schedule.js'
import {Rng, type RngState} from '../../util/rng.js'
import {log} from '../../util/log.js'
import type {PerceptualLoss} from '../../losses/perceptual.js'
import {SDNet} from '../../models/sdnet/model.js'
import type {SdnetConfig} from '../../models/sdnet/config.js'
import {batchesOf, gatherBatch, indicesOf, type VisualData} from './data.js'
import {evaluateSplit} from './evaluate.js'
import {sdnetStepGradients} from './step.js'

export interface VisualTrainOptions {
  model: SdnetConfig
  seed: number
  epochs: number
  batchSize: number
  lr: number
  checkpointDir: string
  checkpointEvery: number
  keepCheckpoints: number
  /** true/'latest' = newest checkpoint in checkpointDir, a path = that checkpoint, false = start fresh */
  resume: boolean | string
  /** stop (with a checkpoint) once this many steps are done, as an interruption would; tests use it */
  stopAfterSteps?: number
  /** frozen VGG-19 perceptual term, weight 0.1 (docs/REFERENCE.md §3.4); absent = off */
  perceptual?: PerceptualLoss
}

export interface StepRecord { step: number, loss: number, reconstruction: number, kl: number, dice: number, regression: number, perceptual?: number }
export interface EpochRecord { epoch: number, step: number, valDice: number, valL1: number, lr: number }
export interface TrainHistory { steps: StepRecord[], epochs: EpochRecord[] }

interface TrainerState {
  /** model config + batch size + seed: a checkpoint only resumes the same training */
  fingerprint: string
  rng: RngState
  /** the current epoch's permutation of training indices, and which epoch it belongs to */
  order: number[]
  orderEpoch: number
  scheduler: PlateauState
  /** the configured learning rate the scheduler started from */
  baseLr?: number
  history: TrainHistory
}

export interface VisualTrainResult { model: SDNet, history: TrainHistory, stepsDone: number, totalSteps: number, lastCheckpoint: string | null }

/** What a checkpoint must match to be resumed: the model, the batch size, the seed and the perceptual weights (more epochs may follow). */
/**
 * Above 128 px the step's backward pass is split at the reconstruction (./step.ts): sdnet-224
 * does not fit wasm's 4 GB heap in one pass. Same gradients; about a fifth more compute.
 */
export function splitBackward(model: SdnetConfig): boolean { return model.imageSize > 128 }

export function trainingFingerprint(opts: Pick<VisualTrainOptions, 'model' | 'batchSize' | 'seed' | 'perceptual'>): string {
  // the perceptual weights change the objective: a checkpoint trained without them (or with
  // other weights) is not resumed (older fingerprints without the key still match when it is off)
  const perceptual = opts.perceptual ? {perceptual: opts.perceptual.source.sha256} : {}
  return JSON.stringify({model: opts.model, batchSize: opts.batchSize, seed: opts.seed, ...perceptual})
}

export async function trainSdnet(data: VisualData, opts: VisualTrainOptions): Promise<VisualTrainResult> {
  const trainIdx = indicesOf(data, 'train')
  if (trainIdx.length === 0) throw new Error('visual: no training images in the split')
  const valIdx = indicesOf(data, 'val')
  const stepsPerEpoch = Math.ceil(trainIdx.length / opts.batchSize)
  const totalSteps = stepsPerEpoch * opts.epochs

  const model = SDNet.create(opts.model, opts.seed)
  const optimizer = new AdamW(model.params, {lr: opts.lr, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: 0})
  const scheduler = new ReduceLROnPlateau(opts.lr, 'max', 0.1, 5)
  const rng = new Rng(opts.seed).fork('train-visual')
  const fingerprint = trainingFingerprint(opts)
  const state: TrainerState = {fingerprint, rng: rng.getState(), order: [], orderEpoch: -1, scheduler: scheduler.getState(), history: {steps: [], epochs: []}}
  const manager = new CheckpointManager(opts.checkpointDir, opts.keepCheckpoints)

  let startStep = 0
  const resumeFrom = await manager.resolve(opts.resume === false ? undefined : opts.resume)
  if (resumeFrom) {
    const ckpt = await manager.load(resumeFrom)
    const saved = ckpt.state as TrainerState & {step: number}
    if (saved.fingerprint !== fingerprint) {
      throw new UserError(`${resumeFrom}: checkpoint of a different training (model, batch size or seed changed); start over with --no-resume`)
    }
    if (saved.order.length > 0 && saved.order.length !== trainIdx.length) {
      throw new UserError(`${resumeFrom}: checkpoint made with ${saved.order.length} training images, the split now has ${trainIdx.length}; start over with --no-resume`)
    }
    model.loadStateDict(ckpt.params, resumeFrom)
    optimizer.importState(ckpt.optimizer)
    try { rng.setState(saved.rng) } catch {
      throw new UserError(`${resumeFrom}/state.json: invalid RNG state; resume from an older checkpoint or start over with --no-resume`)
    }
    scheduler.setState(saved.scheduler)
    // A learning rate changed on resume (e.g. after a non-finite loss) applies, scaled by the
    // plateau reductions already made, instead of being silently replaced by the saved one.
    if (saved.baseLr !== undefined && saved.baseLr !== opts.lr) {
      const rescaled = saved.scheduler.lr * (opts.lr / saved.baseLr)
      scheduler.setState({...saved.scheduler, lr: rescaled})
      log.info(`train-visual: learning rate changed on resume: ${saved.scheduler.lr} -> ${rescaled}`)
    }
    Object.assign(state, {order: saved.order, orderEpoch: saved.orderEpoch, history: saved.history})
    startStep = ckpt.step
    log.info(`train-visual: resumed from ${resumeFrom} at step ${startStep}`)
  }

  const step = async (i: number): Promise<number> => {
    const epoch = Math.floor(i / stepsPerEpoch)
    if (state.orderEpoch !== epoch) {
      state.order = rng.permutation(trainIdx.length).map(k => trainIdx[k])
      state.orderEpoch = epoch
    }
    const batchIdx = batchesOf(state.order, opts.batchSize)[i % stepsPerEpoch]
    const noise = {gumbel: rng.tfSeed(), gumbelReco: rng.tfSeed(), eps: rng.tfSeed()}
    const {x, mask} = gatherBatch(data, batchIdx)
    const {grads: named, loss, terms, stats} = sdnetStepGradients(model, x, mask, noise, {perceptual: opts.perceptual, splitBackward: splitBackward(opts.model)})
    optimizer.applyGradients(named, scheduler.lr)
    model.updateRunningStats(stats)
    tf.dispose([x, mask, ...named.values()])
    const {reconstruction, kl, dice, regression, perceptual} = terms
    state.history.steps.push({step: i + 1, loss, reconstruction, kl, dice, regression, ...(perceptual === undefined ? {} : {perceptual})})
    if ((i + 1) % stepsPerEpoch === 0) {
      // end of epoch: validation Dice drives the plateau scheduler (docs/REFERENCE.md §3.5)
      const val = valIdx.length ? await evaluateSplit(model, data, valIdx, opts.batchSize) : {dice: NaN, l1: NaN}
      const lrBefore = scheduler.lr
      if (valIdx.length) scheduler.observe(val.dice)
      state.history.epochs.push({epoch: epoch + 1, step: i + 1, valDice: val.dice, valL1: val.l1, lr: lrBefore})
      log.info(`train-visual: epoch ${epoch + 1}/${opts.epochs} val Dice ${val.dice.toFixed(4)} recon L1 ${val.l1.toFixed(4)} lr ${lrBefore}`)
    }
    return loss
  }

  const checkpoint = async (stepsDone: number): Promise<string> => {
    const saved: TrainerState = {...state, rng: rng.getState(), scheduler: scheduler.getState(), baseLr: opts.lr}
    return manager.save(stepsDone, {params: await model.stateDict(), optimizer: await optimizer.exportState(), state: saved})
  }

  const runTo = Math.min(totalSteps, opts.stopAfterSteps ?? totalSteps)
  const {lastCheckpoint, stepsDone} = startStep >= runTo
    ? {lastCheckpoint: resumeFrom, stepsDone: startStep}
    : await trainLoop({label: 'train-visual', totalSteps: runTo, startStep, checkpointEvery: opts.checkpointEvery, step, checkpoint, lastCheckpoint: resumeFrom})
  optimizer.dispose()
  return {model, history: state.history, stepsDone, totalSteps, lastCheckpoint}
}
