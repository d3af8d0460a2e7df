// Trains one classifier (one protocol, one seed): AdamW, softmax cross-entropy, optional
// class-balanced sampling and flips/crops, validation after each epoch with early stopping on
// the validation loss, checkpoints, resume and losses.jsonl through src/train/trainer.ts (the
// stage's reliability contract). The best-validation weights are the result.
import {join} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import {AdamW} from '../../train/adamw.js'
import {gradientsByParamName} from '../../train/gradients.js'
import {loadVariables, runTrainer, type StepOutcome} from '../../train/trainer.js'
import {stageFiles} from '../../run/layout.js'
import {readSafetensors, writeSafetensors} from '../../io/safetensors.js'
import {pathExists} from '../../io/atomic.js'
import type {TensorMap} from '../../io/tensor-map.js'
import {Rng, deriveSeed} from '../../util/rng.js'
import {
  channelStats,
  classifierForward,
  createClassifier,
  disposeClassifier,
  type ClassifierModel,
  type ClassifierPreset
} from '../../models/classifier/index.js'
import {epochOrder, makeBatch, setLength, type LabeledSet} from './batches.js'

export interface TrainOptions {
  preset: ClassifierPreset
  numClasses: number
  epochs: number
  batchSize: number
  lr: number
  weightDecay: number
  balanced: boolean
  /** standardise inputs per channel with the training set's mean and std (kept with the model) */
  standardize: boolean
  augment: boolean
  /** epochs without validation improvement before stopping */
  patience: number
  seed: number
  /** folder for checkpoints and best.safetensors */
  dir: string
  resume: boolean
  checkpointEvery: number
  label?: string
  /** per-step losses (default <dir>/losses.jsonl) */
  losses?: string
  /** test hook: end after this many steps without their checkpoint, as kill -9 would */
  crashAfter?: number
}

export interface TrainOutcome {
  model: ClassifierModel
  epochsRun: number
  bestEpoch: number
  bestValLoss: number | null
  stoppedEarly: boolean
  history: Array<{epoch: number; trainLoss: number; valLoss: number | null}>
}

/** Training state saved in each checkpoint's state.json: early stopping and the curves. */
interface ClassifyState {
  bestValLoss: number | null
  bestEpoch: number
  badEpochs: number
  /** running sums of the current epoch's training loss */
  epochLossSum: number
  epochSteps: number
  history: TrainOutcome['history']
  stoppedEarly: boolean
}

async function snapshot(m: ClassifierModel): Promise<TensorMap> {
  const out: TensorMap = new Map()
  for (const [name, t] of [...m.params, ...m.buffers])
    out.set(name, {dtype: 'F32', shape: t.shape.slice(), data: new Float32Array((await t.data()) as Float32Array)})
  return out
}

function restore(m: ClassifierModel, state: TensorMap): void {
  for (const [name, v] of [...m.params, ...m.buffers]) {
    const t = state.get(name)
    if (!t) throw new Error(`checkpoint lacks ${name}`)
    const value = tf.tensor(t.data as Float32Array, t.shape, 'float32')
    v.assign(value)
    value.dispose()
  }
}

/** Mean cross-entropy, probabilities and features of a whole set, in eval mode. */
export async function predictSet(
  m: ClassifierModel,
  s: LabeledSet,
  batchSize: number
): Promise<{loss: number; prob: Float32Array; features: Float32Array}> {
  const n = setLength(s)
  const prob = new Float32Array(n * m.numClasses)
  const features = new Float32Array(n * m.net.featureDim)
  let lossSum = 0
  for (let start = 0; start < n; start += batchSize) {
    const rows = Array.from({length: Math.min(batchSize, n - start)}, (_, i) => start + i)
    const {x, y} = makeBatch(s, rows, false, 0, 0)
    const [p, f, l] = tf.tidy(() => {
      const {logits, features: feats} = classifierForward(m, x, false)
      const loss = tf.losses.softmaxCrossEntropy(
        tf.oneHot(y, m.numClasses),
        logits,
        undefined,
        undefined,
        tf.Reduction.SUM
      )
      return [tf.softmax(logits), feats, loss]
    })
    prob.set((await p.data()) as Float32Array, start * m.numClasses)
    features.set((await f.data()) as Float32Array, start * m.net.featureDim)
    lossSum += (await l.data())[0]
    tf.dispose([x, y, p, f, l])
  }
  return {loss: lossSum / Math.max(1, n), prob, features}
}

export async function trainClassifier(
  train: LabeledSet,
  val: LabeledSet | null,
  o: TrainOptions
): Promise<TrainOutcome> {
  const model = createClassifier(o.preset, o.numClasses, new Rng(deriveSeed(o.seed, 'init')))
  if (o.standardize) model.inputNorm = channelStats(train.images)
  const optimizer = new AdamW(model.params, {lr: o.lr, weightDecay: o.weightDecay})
  const tensors = new Map([...model.params, ...model.buffers])
  const bestPath = join(o.dir, 'best.safetensors')
  const n = setLength(train)
  const stepsPerEpoch = Math.max(1, Math.ceil(n / o.batchSize))
  let state: ClassifyState = {
    bestValLoss: null,
    bestEpoch: -1,
    badEpochs: 0,
    epochLossSum: 0,
    epochSteps: 0,
    history: [],
    stoppedEarly: false
  }
  let order: Int32Array = new Int32Array(0)
  let orderEpoch = -1
  const step = async (i: number): Promise<StepOutcome> => {
    const epoch = Math.floor(i / stepsPerEpoch)
    const within = i % stepsPerEpoch
    if (orderEpoch !== epoch) {
      order = epochOrder(train, o.numClasses, o.seed, epoch, o.balanced)
      orderEpoch = epoch
    }
    const rows = order.subarray(within * o.batchSize, Math.min(n, (within + 1) * o.batchSize))
    const {x, y} = makeBatch(train, rows, o.augment, o.seed, i)
    const {value, grads} = tf.variableGrads(() => {
      const {logits} = classifierForward(model, x, true)
      return tf.losses.softmaxCrossEntropy(tf.oneHot(y, o.numClasses), logits) as tf.Scalar
    }, [...model.params.values()])
    const loss = (await value.data())[0]
    optimizer.applyGradients(gradientsByParamName(model.params, grads), o.lr)
    tf.dispose([x, y, value, ...Object.values(grads)])
    state.epochLossSum += loss
    state.epochSteps += 1
    const finished = within === stepsPerEpoch - 1 && (await endEpoch(epoch))
    return {loss, lr: o.lr, terms: {crossEntropy: loss}, finished}
  }
  /** Validation, best weights and early stopping; true when training should stop. */
  const endEpoch = async (epoch: number): Promise<boolean> => {
    const trainLoss = state.epochLossSum / Math.max(1, state.epochSteps)
    state.epochLossSum = 0
    state.epochSteps = 0
    const valLoss = val && setLength(val) > 0 ? (await predictSet(model, val, o.batchSize * 2)).loss : null
    state.history.push({epoch, trainLoss, valLoss})
    // Without a validation set the last epoch is kept.
    const improved = valLoss === null || state.bestValLoss === null || valLoss < state.bestValLoss
    if (improved) {
      state.bestValLoss = valLoss
      state.bestEpoch = epoch
      state.badEpochs = 0
      await writeSafetensors(bestPath, await snapshot(model), {epoch: String(epoch)})
    } else if (++state.badEpochs >= o.patience) state.stoppedEarly = true
    return state.stoppedEarly
  }
  try {
    await runTrainer<ClassifyState>({
      label: o.label ?? 'classify',
      totalSteps: o.epochs * stepsPerEpoch,
      optimizer,
      step,
      checkpoints: {dir: join(o.dir, 'checkpoints'), every: o.checkpointEvery, keep: 2},
      resume: o.resume,
      // lr, weight decay, epochs and patience may change on resume (e.g. after a non-finite loss)
      identity: {
        preset: o.preset,
        numClasses: o.numClasses,
        trainImages: n,
        batchSize: o.batchSize,
        seed: o.seed,
        balanced: o.balanced,
        standardize: o.standardize,
        augment: o.augment
      },
      losses: o.losses ?? join(o.dir, stageFiles.losses),
      tensors: () => snapshot(model),
      loadTensors: (saved, path) => loadVariables(tensors, saved, path),
      state: () => state,
      loadState: saved => {
        state = {...state, ...pickState(saved)}
      },
      crashAfter: o.crashAfter
    })
  } catch (err) {
    disposeClassifier(model)
    throw err
  } finally {
    optimizer.dispose()
  }
  if (await pathExists(bestPath)) restore(model, await readSafetensors(bestPath))
  return {
    model,
    epochsRun: state.history.length,
    bestEpoch: state.bestEpoch,
    bestValLoss: state.bestValLoss,
    stoppedEarly: state.stoppedEarly,
    history: state.history
  }
}

/** The classify fields of a checkpoint's state.json (beside the frame's step and identity). */
function pickState(saved: ClassifyState): ClassifyState {
  const {bestValLoss, bestEpoch, badEpochs, epochLossSum, epochSteps, history, stoppedEarly} = saved
  return {bestValLoss, bestEpoch, badEpochs, epochLossSum, epochSteps, history, stoppedEarly}
}
