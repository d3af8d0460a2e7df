// One DiT training run (docs/REFERENCE.md §5.4 with the deliberate fixes of docs/DESIGN.md): epsilon-MSE
// on the first C output channels, AdamW (decoupled weight decay), cosine schedule with warm-up,
// clipping by global norm, condition dropout to the learned null pair, and the colour loss on
// the predicted clean image. Every random choice of step i comes from a generator seeded by
// (seed, i) and the data order from (seed, epoch), so a resumed run repeats the exact stream.
import * as tf from '@tensorflow/tfjs'
import {AdamW} from '../../train/adamw.js'
import {cosineWithWarmup} from '../../train/schedule.js'
import {clipByGlobalNorm} from '../../train/clip.js'
import {CheckpointManager} from '../../train/checkpoint.js'
import {trainLoop} from '../../train/loop.js'
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
  colour: {mode: ColourMode, weight: number, every: number}
  seed: number
  /** model space -> pixels in [-1, 1] for the colour loss (VAE decode, or undoing the pixel centring) */
  decode?: (x: tf.Tensor4D) => tf.Tensor4D
  /** target of the first C output channels: epsilon (default, PixArt) or v = sqrt(acp) eps - sqrt(1-acp) x0 */
  prediction?: 'epsilon' | 'v'
  /** recompute transformer blocks in the backward pass (src/models/pixart/checkpoint.ts) */
  checkpointBlocks?: boolean
  /** identifies the training config in checkpoints, so a resume under another config is refused */
  configKey?: string
}

export interface StepGradients { loss: number, mse: number, colour: number | null, grads: Map<string, tf.Tensor> }

export class DitTrainer {
  readonly schedule = new DdpmSchedule()
  readonly params: Map<string, tf.Variable>
  readonly optimizer: AdamW
  private readonly order: EpochOrder
  private readonly byVarName = new Map<string, string>()
  readonly history: Array<{step: number, loss: number, mse: number, colour: number | null, lr: number}> = []

  constructor(readonly model: DitModel, readonly data: DitTrainingSet, readonly opts: DitTrainOptions) {
    if (data.examples.length === 0) throw new UserError('finetune-dit: the training split has no images')
    this.params = trainableParams(model)
    for (const [k, v] of this.params) this.byVarName.set(v.name, k)
    this.optimizer = new AdamW(this.params, {lr: opts.lr, weightDecay: opts.weightDecay})
    this.order = new EpochOrder(data.examples.length, epoch => new Rng(deriveSeed(opts.seed, 'dit-epoch', epoch)))
  }

  lrAt(step: number): number { return cosineWithWarmup(step, this.opts.steps, this.opts.warmupSteps, this.opts.lr) }

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
      const target = useV ? noise.mul(signal).sub(x0.mul(sigma)) as tf.Tensor4D : noise
      const condInputs = conditionInputsFor(this.data, indices)
      const {value, grads} = tf.variableGrads(() => {
        let cond = conditionOf(this.model, condInputs)
        if (drop.some(Boolean)) cond = dropCondition(cond, nullCondition({params: this.model.cond}, b, cond.tokens.shape[1]), drop)
        const out = predictNoise(this.model, xt, t, cond, this.opts.checkpointBlocks ?? false)
        const mseLoss = epsilonMse(out, target)
        mse = mseLoss.dataSync()[0]
        if (!colourActive) return mseLoss
        const head = out.slice([0, 0, 0, 0], [-1, -1, -1, c]) as tf.Tensor4D
        // x0_hat in model units (v: sqrt(acp) x_t - sqrt(1-acp) v); decoded to pixels and clipped
        // to [-1, 1] there (clipped pixels carry no gradient)
        let x0Hat = useV ? xt.mul(signal).sub(head.mul(sigma)) as tf.Tensor4D : this.schedule.predictX0(xt, head, t)
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
        return colourMode === 'train' ? mseLoss.add(cl.mul(this.opts.colour.weight)) as tf.Scalar : mseLoss
      }, [...this.params.values()])
      return {...grads, __loss: value}
    })
    const loss = result.__loss.dataSync()[0]
    result.__loss.dispose()
    const named = new Map<string, tf.Tensor>()
    for (const [varName, g] of Object.entries(result)) if (varName !== '__loss') named.set(this.byVarName.get(varName)!, g)
    return {loss, mse, colour, grads: named}
  }

  /** One optimizer step: gradients, clipping, AdamW at the scheduled learning rate. */
  step(i: number): number {
    const {loss, mse, colour, grads} = this.stepGradients(i)
    if (!Number.isFinite(loss)) { tf.dispose([...grads.values()]); return loss }
    const clipped = clipByGlobalNorm(grads, this.opts.gradClip)
    const lr = this.lrAt(i)
    this.optimizer.applyGradients(clipped.grads, lr)
    tf.dispose([...clipped.grads.values()])
    this.history.push({step: i + 1, loss, mse, colour, lr})
    return loss
  }

  async saveCheckpoint(manager: CheckpointManager, stepsDone: number): Promise<string> {
    return manager.save(stepsDone, {
      params: this.params, optimizer: await this.optimizer.exportState(),
      state: {history: this.history, seed: this.opts.seed, optimizerStep: this.optimizer.step, configKey: this.opts.configKey ?? null},
    })
  }

  /** Restores weights, AdamW moments and the loss history; returns the step to continue from. */
  async restore(manager: CheckpointManager, path: string): Promise<number> {
    const ck = await manager.load(path)
    if (this.opts.configKey && ck.state.configKey && ck.state.configKey !== this.opts.configKey) {
      throw new UserError(`${path}: checkpoint was written under a different dit config; use --force to start over (or change the config back)`)
    }
    for (const [name, v] of this.params) {
      const host = ck.params.get(name)
      if (!host) throw new UserError(`${path}: checkpoint has no ${name} (was it written with another dit config?)`)
      if (host.shape.join(',') !== v.shape.join(',')) throw new UserError(`${path}: ${name} has shape [${host.shape}], model expects [${v.shape}]`)
      tf.tidy(() => v.assign(tf.tensor(host.data as Float32Array, host.shape)))
    }
    this.optimizer.importState(ck.optimizer)
    this.history.splice(0, this.history.length, ...(ck.state.history ?? []))
    return ck.step
  }

  /**
   * Runs (or resumes) the whole schedule with checkpoints. `stopAfter` ends the run early without
   * a final checkpoint, like a crash (tests of exact resume).
   */
  async train(checkpointDir: string, every: number, keep: number, resume: boolean | string, stopAfter?: number): Promise<{stepsDone: number, lastCheckpoint: string | null}> {
    const manager = new CheckpointManager(checkpointDir, keep)
    const from = await manager.resolve(resume)
    const start = from ? await this.restore(manager, from) : 0
    let last = from
    return trainLoop({
      label: 'finetune-dit', totalSteps: stopAfter !== undefined ? Math.min(this.opts.steps, stopAfter) : this.opts.steps,
      startStep: start, checkpointEvery: every, lastCheckpoint: from,
      step: i => this.step(i),
      checkpoint: async done => {
        // trainLoop asks at every `every` steps, at the end and on a stop signal; only the
        // simulated crash (stopAfter) ends without one.
        const simulatedCrash = stopAfter !== undefined && done === stopAfter && done % every !== 0 && done !== this.opts.steps
        if (!simulatedCrash) last = await this.saveCheckpoint(manager, done)
        return last ?? ''
      },
    })
  }
}

/** First vs last 10% of the recorded steps: the "loss falls" figure in dit/metrics.json. */
export function lossSummary(history: Array<{loss: number}>): {steps: number, firstTenthMean: number, lastTenthMean: number, ratio: number} {
  const n = history.length
  const k = Math.max(1, Math.floor(n / 10))
  const mean = (xs: Array<{loss: number}>): number => xs.reduce((a, b) => a + b.loss, 0) / Math.max(1, xs.length)
  const first = mean(history.slice(0, k))
  const last = mean(history.slice(n - k))
  return {steps: n, firstTenthMean: first, lastTenthMean: last, ratio: last / first}
}
