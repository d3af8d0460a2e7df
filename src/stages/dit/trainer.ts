// One DiT training run (docs/REFERENCE.md §5.4 with the deliberate fixes of docs/DESIGN.md): epsilon-MSE
// on the first C output channels, AdamW (decoupled weight decay), cosine schedule with warm-up,
// clipping by global norm, condition dropout to the learned null pair, and the colour loss on
// the predicted clean image. Every random choice of step i comes from a generator seeded by
// (seed, i) and the data order from (seed, epoch), so a resumed run repeats the exact stream.
import * as tf from '@tensorflow/tfjs'
import {AdamW} from '../../train/adamw.js'
import {cosineWithWarmup} from '../../train/schedule.js'
import {clipCoefficient} from '../../train/clip.js'
import {gradientsByParamName} from '../../train/gradients.js'
import {loadVariables, runTrainer, type StepOutcome} from '../../train/trainer.js'
import {DdpmSchedule} from '../../diffusion/noise-schedule.js'
import {epsilonMse} from '../../losses/diffusion.js'
import {colourLoss} from '../../losses/colour.js'
import {dropCondition, nullCondition} from '../../models/hffm.js'
import {Rng, deriveSeed} from '../../util/rng.js'
import {UserError} from '../../errors.js'
import {assembleBatch, EpochOrder, type DitTrainingSet} from './batch.js'
import {conditionInputsFor, conditionOf, predictNoise, trainableParams, type DitModel} from './model.js'

export type ColourMode = 'off' | 'logged' | 'train'

export interface DitTrainOptions {
  steps: number
  batchSize: number
  lr: number
  weightDecay: number
  warmupSteps: number
  gradClip: number
  condDropout: number
  colour: {mode: ColourMode; weight: number; every: number}
  seed: number
  /** model space -> pixels in [-1, 1] for the colour loss (VAE decode, or undoing the pixel centring) */
  decode?: (x: tf.Tensor4D) => tf.Tensor4D
  /** target of the first C output channels: epsilon (default, PixArt) or v = sqrt(acp) eps - sqrt(1-acp) x0 */
  prediction?: 'epsilon' | 'v'
  /** recompute transformer blocks in the backward pass (src/models/pixart/checkpoint.ts) */
  checkpointBlocks?: boolean
  /** settings a checkpoint must match to be resumed beside seed and batch size (src/train/same-training.ts) */
  identity?: Record<string, unknown>
}

export interface StepGradients {
  loss: number
  mse: number
  colour: number | null
  grads: Map<string, tf.Tensor>
}

export class DitTrainer {
  readonly schedule = new DdpmSchedule()
  readonly params: Map<string, tf.Variable>
  readonly optimizer: AdamW
  private readonly order: EpochOrder
  readonly history: Array<{step: number; loss: number; mse: number; colour: number | null; lr: number}> = []

  constructor(
    readonly model: DitModel,
    readonly data: DitTrainingSet,
    readonly opts: DitTrainOptions
  ) {
    if (data.examples.length === 0) throw new UserError('finetune-dit: the training split has no images')
    this.params = trainableParams(model)
    this.optimizer = new AdamW(this.params, {lr: opts.lr, weightDecay: opts.weightDecay})
    this.order = new EpochOrder(data.examples.length, epoch => new Rng(deriveSeed(opts.seed, 'dit-epoch', epoch)))
  }

  lrAt(step: number): number {
    return cosineWithWarmup(step, this.opts.steps, this.opts.warmupSteps, this.opts.lr)
  }

  /** Loss and gradients of step i (nothing applied). `colourMode` overrides the configured mode (tests). */
  stepGradients(i: number, colourMode: ColourMode = this.opts.colour.mode): StepGradients {
    const rng = new Rng(deriveSeed(this.opts.seed, 'dit-step', i))
    const indices = this.order.itemsForStep(i, this.opts.batchSize)
    const b = indices.length
    const [h, w, c] = this.data.modelShape
    const batch = assembleBatch(this.data, indices, rng)
    const t = indices.map(() => rng.int(this.schedule.numTrainTimesteps))
    const noiseValues = rng.normalArray(b * h * w * c)
    const drop = indices.map(() => rng.uniform() < this.opts.condDropout)
    const colourActive = colourMode !== 'off' && i % this.opts.colour.every === 0
    let mse = 0
    let colour: number | null = null
    const result = tf.tidy((): tf.NamedTensorMap => {
      const x0 = tf.tensor4d(batch.x0, [b, h, w, c])
      const noise = tf.tensor4d(noiseValues, [b, h, w, c])
      const xt = this.schedule.addNoise(x0, noise, t)
      const {signal, noise: sigma} = this.schedule.coefficients(t)
      // v-prediction (Salimans & Ho 2022) for from-scratch pixel models: its implied x0 stays
      // bounded at high t, where eps-prediction's divides by sqrt(acp) ~ 0.006 (docs/DESIGN.md deviation).
      const useV = this.opts.prediction === 'v'
      const target = useV ? (noise.mul(signal).sub(x0.mul(sigma)) as tf.Tensor4D) : noise
      const condInputs = conditionInputsFor(this.data, indices)
      const {value, grads} = tf.variableGrads(() => {
        let cond = conditionOf(this.model, condInputs)
        if (drop.some(Boolean))
          cond = dropCondition(cond, nullCondition({params: this.model.cond}, b, cond.tokens.shape[1]), drop)
        const out = predictNoise(this.model, xt, t, cond, this.opts.checkpointBlocks ?? false)
        const mseLoss = epsilonMse(out, target)
        mse = mseLoss.dataSync()[0]
        if (!colourActive) return mseLoss
        const head = out.slice([0, 0, 0, 0], [-1, -1, -1, c]) as tf.Tensor4D
        // x0_hat in model units (v: sqrt(acp) x_t - sqrt(1-acp) v); decoded to pixels and clipped
        // to [-1, 1] there (clipped pixels carry no gradient)
        let x0Hat = useV ? (xt.mul(signal).sub(head.mul(sigma)) as tf.Tensor4D) : this.schedule.predictX0(xt, head, t)
        let pixelTarget: tf.Tensor4D = x0
        if (this.opts.decode) {
          x0Hat = this.opts.decode(x0Hat)
          pixelTarget = this.opts.decode(x0)
        }
        x0Hat = tf.clipByValue(x0Hat, -1, 1)
        // `logged` reproduces the authors' behaviour: the value is recorded but is not part of the
        // differentiated objective, so no gradient flows from it.
        const cl = colourLoss(x0Hat, pixelTarget)
        colour = cl.dataSync()[0]
        return colourMode === 'train' ? (mseLoss.add(cl.mul(this.opts.colour.weight)) as tf.Scalar) : mseLoss
      }, [...this.params.values()])
      return {...grads, __loss: value}
    })
    const loss = result.__loss.dataSync()[0]
    result.__loss.dispose()
    return {loss, mse, colour, grads: gradientsByParamName(this.params, result)} // __loss is no parameter: left out
  }

  /** One optimizer step: gradients, clipping, AdamW at the scheduled learning rate; returns the loss. */
  step(i: number): number {
    return this.stepOutcome(i).loss
  }

  /** step(i) with its learning rate and loss terms, for the trainer frame and losses.jsonl. */
  stepOutcome(i: number): StepOutcome {
    const {loss, mse, colour, grads} = this.stepGradients(i)
    const lr = this.lrAt(i)
    if (!Number.isFinite(loss)) {
      tf.dispose([...grads.values()])
      return {loss, lr}
    }
    const {coef} = clipCoefficient(grads, this.opts.gradClip)
    this.optimizer.applyGradients(grads, lr, coef)
    tf.dispose([...grads.values()])
    this.history.push({step: i + 1, loss, mse, colour, lr})
    return {loss, lr, terms: {diffusion: mse, colour}}
  }

  /**
   * Runs (or resumes) the whole schedule through src/train/trainer.ts: checkpoints every `every`
   * steps, losses.jsonl when `losses` is given. `stopAfter` ends the run after that step without
   * its checkpoint, as kill -9 would (tests of exact resume).
   */
  async train(
    checkpointDir: string,
    every: number,
    keep: number,
    resume: boolean | string,
    stopAfter?: number,
    losses: string | null = null
  ): Promise<{stepsDone: number; lastCheckpoint: string | null}> {
    const params = this.params
    const {stepsDone, lastCheckpoint} = await runTrainer<{history: DitTrainer['history']}>({
      label: 'finetune-dit',
      totalSteps: this.opts.steps,
      optimizer: this.optimizer,
      checkpoints: {dir: checkpointDir, every, keep},
      resume,
      losses,
      crashAfter: stopAfter,
      // lr, warm-up, clipping and the number of steps may change on resume (e.g. after a non-finite loss)
      identity: {seed: this.opts.seed, batchSize: this.opts.batchSize, ...this.opts.identity},
      step: i => this.stepOutcome(i),
      tensors: () => params,
      loadTensors: (saved, path) => loadVariables(params, saved, path),
      state: () => ({history: this.history}),
      loadState: saved => {
        this.history.splice(0, this.history.length, ...saved.history)
      }
    })
    return {stepsDone, lastCheckpoint}
  }
}

/** First vs last 10% of the recorded steps: the "loss falls" figure in dit/metrics.json. */
export function lossSummary(history: Array<{loss: number}>): {
  steps: number
  firstTenthMean: number
  lastTenthMean: number
  ratio: number
} {
  const n = history.length
  const k = Math.max(1, Math.floor(n / 10))
  const mean = (xs: Array<{loss: number}>): number => xs.reduce((a, b) => a + b.loss, 0) / Math.max(1, xs.length)
  const first = mean(history.slice(0, k))
  const last = mean(history.slice(n - k))
  return {steps: n, firstTenthMean: first, lastTenthMean: last, ratio: last / first}
}
