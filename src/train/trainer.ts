// The trainer frame every training stage runs in (issue 22 item 3; docs/DESIGN.md "Reliability
// contract"): resume from the newest complete checkpoint or start over, one rule for refusing a
// checkpoint of another training (./same-training.ts), typed checkpoint state, losses.jsonl
// (./losses-log.ts), and trainLoop's progress, signals and non-finite guard (./loop.ts).
// A stage supplies its step() and what it saves; the frame owns the order of everything else.
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../errors.js'
import type {TensorMap} from '../io/tensor-map.js'
import {log} from '../util/log.js'
import type {AdamW} from './adamw.js'
import {CheckpointManager} from './checkpoint.js'
import {LossLog, type LossTerms} from './losses-log.js'
import {trainLoop} from './loop.js'
import {requireSameTraining, type TrainingIdentity} from './same-training.js'

export interface StepOutcome {
  /** the total loss the gradients came from */
  loss: number
  /** the learning rate the step used */
  lr: number
  /** the loss's terms by name for losses.jsonl (null or undefined: not computed this step) */
  terms?: LossTerms
  /** the stage is done after this step (early stopping): no further steps, no checkpoint of it */
  finished?: boolean
}

/** What a stage saves in each checkpoint beside the optimizer moments, and how it puts it back. */
export interface SavedTraining<S extends object> {
  /** the model's tensors by PyTorch name (params.safetensors) */
  tensors(): Promise<TensorMap | Map<string, tf.Tensor>> | TensorMap | Map<string, tf.Tensor>
  /** puts saved tensors back; a missing or misshapen one is a UserError naming `checkpoint` */
  loadTensors(saved: TensorMap, checkpoint: string): void
  /** the stage's JSON state (history, RNG, scheduler...), stored at the top of state.json */
  state(): S
  loadState(saved: S, checkpoint: string): void
}

export interface TrainerSpec<S extends object> extends SavedTraining<S> {
  /** progress label and log prefix */
  label: string
  totalSteps: number
  optimizer: AdamW
  /** null: no checkpoints (nothing to resume from; unit tests of a model's training) */
  checkpoints: {dir: string; every: number; keep: number} | null
  /** true/'latest': the newest complete checkpoint if any; a folder: that one; false: start over (checkpoints removed) */
  resume: boolean | string
  /** what a checkpoint must match to be resumed (./same-training.ts) */
  identity: TrainingIdentity
  /** the stage's losses.jsonl, or null for none */
  losses: string | null
  /** optimizer step i (0-based): forward, backward, update */
  step(i: number): Promise<StepOutcome> | StepOutcome
  /** stop once this many steps are done, with a checkpoint, as a signal would (tests) */
  stopAfterSteps?: number
  /** end once this many steps are done without their checkpoint, as kill -9 would (in-process tests) */
  crashAfter?: number
}

export interface TrainerResult {
  stepsDone: number
  totalSteps: number
  lastCheckpoint: string | null
  resumedFrom: string | null
  /** the stage's step said it was finished before totalSteps */
  finishedEarly: boolean
}

class FinishedEarly extends Error {}

export async function runTrainer<S extends object>(spec: TrainerSpec<S>): Promise<TrainerResult> {
  const manager = spec.checkpoints ? new CheckpointManager(spec.checkpoints.dir, spec.checkpoints.keep) : null
  const resumedFrom = manager ? await manager.resolve(spec.resume || undefined) : null
  if (!spec.resume) await manager?.clear()
  let startStep = 0
  if (manager && resumedFrom) {
    const ckpt = await manager.load(resumedFrom)
    requireSameTraining(resumedFrom, ckpt.state.identity, spec.identity)
    spec.loadTensors(ckpt.params, resumedFrom)
    spec.optimizer.importState(ckpt.optimizer)
    spec.loadState(ckpt.state as S, resumedFrom)
    startStep = ckpt.step
    log.info(`${spec.label}: resumed from ${resumedFrom} at step ${startStep}`)
  }
  const losses = spec.losses ? await LossLog.open(spec.losses, startStep) : null
  const runTo = Math.min(spec.totalSteps, spec.stopAfterSteps ?? Infinity, spec.crashAfter ?? Infinity)
  const result = {
    stepsDone: startStep,
    totalSteps: spec.totalSteps,
    lastCheckpoint: resumedFrom,
    resumedFrom,
    finishedEarly: false
  }
  if (startStep >= runTo) return result

  const step = async (i: number): Promise<number> => {
    const outcome = await spec.step(i)
    if (Number.isFinite(outcome.loss)) await losses?.append(i + 1, outcome.lr, outcome.loss, outcome.terms)
    result.stepsDone = i + 1
    if (outcome.finished) throw new FinishedEarly()
    return outcome.loss
  }
  const checkpoint = async (stepsDone: number): Promise<string> => {
    // a simulated kill -9 dies after its step and before that step's checkpoint, as loop.ts's does
    if (manager && stepsDone !== spec.crashAfter) {
      result.lastCheckpoint = await manager.save(stepsDone, {
        params: await spec.tensors(),
        optimizer: await spec.optimizer.exportState(),
        state: {identity: spec.identity, ...spec.state()}
      })
    }
    return result.lastCheckpoint ?? ''
  }
  try {
    await trainLoop({
      label: spec.label,
      totalSteps: runTo,
      startStep,
      checkpointEvery: spec.checkpoints?.every ?? Infinity,
      step,
      checkpoint,
      lastCheckpoint: resumedFrom
    })
  } catch (err) {
    if (!(err instanceof FinishedEarly)) throw err
    result.finishedEarly = true
  }
  return result
}

/** SavedTraining.loadTensors for a plain map of variables: every name present with its shape. */
export function loadVariables(vars: Map<string, tf.Variable>, saved: TensorMap, checkpoint: string): void {
  for (const [name, v] of vars) {
    const host = saved.get(name)
    if (!host) throw new UserError(`${checkpoint}: checkpoint has no ${name} (written for another model?)`)
    if (host.shape.join(',') !== v.shape.join(','))
      throw new UserError(`${checkpoint}: ${name} has shape [${host.shape}], the model expects [${v.shape}]`)
    tf.tidy(() => v.assign(tf.tensor(host.data as Float32Array, host.shape, 'float32')))
  }
}
