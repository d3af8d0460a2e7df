// Trains SDNet (docs/REFERENCE.md §3.4-3.5): Adam (0.5, 0.999), ReduceLROnPlateau on validation
// Dice (max, patience 5, factor 0.1), every sample used each epoch (the authors' dropped
// samples are not reproduced). Checkpoints hold weights + BN statistics, Adam moments, the
// scheduler, the RNG, the epoch's data order and the curves, so a resumed run is identical
// (src/train/trainer.ts runs the loop, resume and losses.jsonl).
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {AdamW} from '../../train/adamw.js'
import {runTrainer, type StepOutcome} from '../../train/trainer.js'
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
  /** per-step losses (absent: none) */
  losses?: string
  /** test hook: end after this many steps without their checkpoint, as kill -9 would */
  crashAfter?: number
}

export interface StepRecord {
  step: number
  loss: number
  reconstruction: number
  kl: number
  dice: number
  regression: number
  perceptual?: number
}
export interface EpochRecord {
  epoch: number
  step: number
  valDice: number
  valL1: number
  lr: number
}
export interface TrainHistory {
  steps: StepRecord[]
  epochs: EpochRecord[]
}

/** Training state saved in each checkpoint's state.json beside the frame's step and identity. */
interface VisualState {
  rng: RngState
  /** the current epoch's permutation of training indices, and which epoch it belongs to */
  order: number[]
  orderEpoch: number
  scheduler: PlateauState
  /** the configured learning rate the scheduler started from */
  baseLr?: number
  history: TrainHistory
}

export interface VisualTrainResult {
  model: SDNet
  history: TrainHistory
  stepsDone: number
  totalSteps: number
  lastCheckpoint: string | null
}

/**
 * Above 128 px the step's backward pass is split at the reconstruction (./step.ts): sdnet-224
 * does not fit wasm's 4 GB heap in one pass. Same gradients; about a fifth more compute.
 */
export function splitBackward(model: SdnetConfig): boolean {
  return model.imageSize > 128
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
  let order: number[] = []
  let orderEpoch = -1
  let history: TrainHistory = {steps: [], epochs: []}

  const step = async (i: number): Promise<StepOutcome> => {
    const epoch = Math.floor(i / stepsPerEpoch)
    if (orderEpoch !== epoch) {
      order = rng.permutation(trainIdx.length).map(k => trainIdx[k])
      orderEpoch = epoch
    }
    const batchIdx = batchesOf(order, opts.batchSize)[i % stepsPerEpoch]
    const noise = {gumbel: rng.tfSeed(), gumbelReco: rng.tfSeed(), eps: rng.tfSeed()}
    const {x, mask} = gatherBatch(data, batchIdx)
    const {
      grads: named,
      loss,
      terms,
      stats
    } = sdnetStepGradients(model, x, mask, noise, {
      perceptual: opts.perceptual,
      splitBackward: splitBackward(opts.model)
    })
    const lr = scheduler.lr
    optimizer.applyGradients(named, lr)
    model.updateRunningStats(stats)
    tf.dispose([x, mask, ...named.values()])
    const {reconstruction, kl, dice, regression, perceptual} = terms
    history.steps.push({
      step: i + 1,
      loss,
      reconstruction,
      kl,
      dice,
      regression,
      ...(perceptual === undefined ? {} : {perceptual})
    })
    if ((i + 1) % stepsPerEpoch === 0) {
      // end of epoch: validation Dice drives the plateau scheduler (docs/REFERENCE.md §3.5)
      const val = valIdx.length ? await evaluateSplit(model, data, valIdx, opts.batchSize) : {dice: NaN, l1: NaN}
      const lrBefore = scheduler.lr
      if (valIdx.length) scheduler.observe(val.dice)
      history.epochs.push({epoch: epoch + 1, step: i + 1, valDice: val.dice, valL1: val.l1, lr: lrBefore})
      log.info(
        `train-visual: epoch ${epoch + 1}/${opts.epochs} val Dice ${val.dice.toFixed(4)} recon L1 ${val.l1.toFixed(4)} lr ${lrBefore}`
      )
    }
    return {loss, lr, terms}
  }

  const loadState = (saved: VisualState, path: string): void => {
    try {
      rng.setState(saved.rng)
    } catch {
      throw new UserError(
        `${path}/state.json: invalid RNG state; resume from an older checkpoint or start over with --no-resume`
      )
    }
    scheduler.setState(saved.scheduler)
    // A learning rate changed on resume (e.g. after a non-finite loss) applies, scaled by the
    // plateau reductions already made, instead of being silently replaced by the saved one.
    if (saved.baseLr !== undefined && saved.baseLr !== opts.lr) {
      const rescaled = saved.scheduler.lr * (opts.lr / saved.baseLr)
      scheduler.setState({...saved.scheduler, lr: rescaled})
      log.info(`train-visual: learning rate changed on resume: ${saved.scheduler.lr} -> ${rescaled}`)
    }
    order = saved.order
    orderEpoch = saved.orderEpoch
    history = saved.history
  }

  const run = await runTrainer<VisualState>({
    label: 'train-visual',
    totalSteps,
    optimizer,
    step,
    checkpoints: {dir: opts.checkpointDir, every: opts.checkpointEvery, keep: opts.keepCheckpoints},
    resume: opts.resume,
    identity: trainingIdentity(opts, trainIdx.length),
    losses: opts.losses ?? null,
    stopAfterSteps: opts.stopAfterSteps,
    crashAfter: opts.crashAfter,
    tensors: () => model.stateDict(),
    loadTensors: (saved, path) => model.loadStateDict(saved, path),
    state: () => ({rng: rng.getState(), order, orderEpoch, scheduler: scheduler.getState(), baseLr: opts.lr, history}),
    loadState
  })
  optimizer.dispose()
  return {model, history, stepsDone: run.stepsDone, totalSteps, lastCheckpoint: run.lastCheckpoint}
}

/**
 * What a checkpoint must match to be resumed: the model, the batch size, the seed, the training
 * images and the perceptual weights (more epochs, another learning rate may follow).
 */
function trainingIdentity(opts: VisualTrainOptions, trainImages: number): Record<string, unknown> {
  return {
    model: opts.model,
    batchSize: opts.batchSize,
    seed: opts.seed,
    trainImages,
    perceptual: opts.perceptual?.source.sha256 ?? null
  }
}
