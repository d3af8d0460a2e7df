// The trainer frame (src/train/trainer.ts) on a toy regression: a run killed after a step (no
// checkpoint of it) and resumed ends with the uninterrupted run's weights and losses.jsonl; a
// checkpoint of another training is refused in one line naming the folder and the setting; a
// fresh start removes older checkpoints and empties losses.jsonl; early stopping ends the run.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {expectSameLosses, readLosses} from '../helpers/losses.js'
import {UserError} from '../../src/errors.js'
import {AdamW} from '../../src/train/adamw.js'
import {gradientsByParamName} from '../../src/train/gradients.js'
import {loadVariables, runTrainer, type TrainerSpec} from '../../src/train/trainer.js'
import {Rng, deriveSeed} from '../../src/util/rng.js'

const X = new Rng(1).normalArray(32 * 4)
const Y = Float32Array.from({length: 32}, (_, r) => X[r * 4] - 2 * X[r * 4 + 1] + 0.5 * X[r * 4 + 3])

interface ToyOptions {
  dir: string
  steps?: number
  resume?: boolean
  crashAfter?: number
  stopAfterSteps?: number
  batchSize?: number
  finishAt?: number
}

/** Linear regression trained by AdamW on seeded batches; returns its weights and the frame's result. */
async function toyRun(o: ToyOptions) {
  const w = tf.variable(tf.zeros([4, 1]), true)
  const params = new Map([['linear.weight', w]])
  const optimizer = new AdamW(params, {lr: 0.05})
  const batchSize = o.batchSize ?? 4
  let state = {history: [] as Array<{step: number; loss: number}>}
  const spec: TrainerSpec<typeof state> = {
    label: 'toy',
    totalSteps: o.steps ?? 10,
    optimizer,
    resume: o.resume ?? true,
    identity: {model: {width: 4}, batchSize, seed: 3},
    checkpoints: {dir: join(o.dir, 'checkpoints'), every: 4, keep: 2},
    losses: join(o.dir, 'losses.jsonl'),
    crashAfter: o.crashAfter,
    stopAfterSteps: o.stopAfterSteps,
    step: i => {
      const rows = Array.from({length: batchSize}, (_, k) => new Rng(deriveSeed(3, 'toy', i, k)).int(32))
      const x = tf.tensor2d(
        rows.flatMap(r => Array.from(X.subarray(r * 4, r * 4 + 4))),
        [batchSize, 4]
      )
      const y = tf.tensor2d(
        rows.map(r => Y[r]),
        [batchSize, 1]
      )
      const {value, grads} = tf.variableGrads(() => tf.losses.meanSquaredError(y, x.matMul(w)) as tf.Scalar, [w])
      optimizer.applyGradients(gradientsByParamName(params, grads), 0.05)
      const loss = value.dataSync()[0]
      tf.dispose([x, y, value, ...Object.values(grads)])
      state.history.push({step: i + 1, loss})
      return {loss, lr: 0.05, terms: {mse: loss, unused: null}, finished: i + 1 === o.finishAt}
    },
    tensors: () => params,
    loadTensors: (saved, path) => loadVariables(params, saved, path),
    state: () => state,
    loadState: saved => {
      state = {history: saved.history}
    }
  }
  const result = await runTrainer(spec)
  const weights = Array.from(w.dataSync())
  optimizer.dispose()
  w.dispose()
  return {result, weights, history: state.history}
}

describe('train: the trainer frame', function () {
  this.timeout(60_000)
  before(async () => {
    await useTestBackend()
    process.env.MEDGEN_QUIET = '1'
  })

  it('killed after step 7 (checkpoint at 4) and resumed: the same weights, history and losses.jsonl as an uninterrupted run', async () => {
    const a = tmpDir()
    const full = await toyRun({dir: a})
    expect(full.result.stepsDone).to.equal(10)
    const lines = readLosses(join(a, 'losses.jsonl'))
    expect(lines.map(l => l.step)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(lines[0]).to.have.keys('step', 'lr', 'loss', 'mse')
    expect(lines[9].loss).to.equal(full.history[9].loss)

    const b = tmpDir()
    const crashed = await toyRun({dir: b, crashAfter: 7})
    expect(crashed.result.lastCheckpoint).to.match(/checkpoint-4$/)
    expect(readLosses(join(b, 'losses.jsonl')).length, 'lines of steps 5-7 written before the kill').to.equal(7)
    const resumed = await toyRun({dir: b})
    expect(resumed.result.resumedFrom).to.match(/checkpoint-4$/)
    expect(resumed.weights).to.deep.equal(full.weights)
    expect(resumed.history).to.deep.equal(full.history)
    expect(expectSameLosses(join(b, 'losses.jsonl'), join(a, 'losses.jsonl'), 0)).to.equal(0)
  })

  it('refuses a checkpoint of another training in one line naming the folder and the setting', async () => {
    const dir = tmpDir()
    await toyRun({dir, stopAfterSteps: 4})
    let err: unknown = null
    try {
      await toyRun({dir, batchSize: 8})
    } catch (e) {
      err = e
    }
    expect(err).to.be.instanceOf(UserError)
    const message = (err as UserError).message
    expect(message).to.match(
      /checkpoints\/checkpoint-4: checkpoint of a different training: batchSize is 4 there, 8 now; start over with --force/
    )
    expect(message).to.not.include('\n')
    expect((err as UserError).exitCode).to.equal(2)
  })

  it('a fresh start removes older checkpoints and empties losses.jsonl; stopAfterSteps leaves a checkpoint', async () => {
    const dir = tmpDir()
    const stopped = await toyRun({dir, stopAfterSteps: 6})
    expect(stopped.result.lastCheckpoint).to.match(/checkpoint-6$/)
    expect(readdirSync(join(dir, 'checkpoints')).sort()).to.deep.equal(['checkpoint-4', 'checkpoint-6'])
    await toyRun({dir, resume: false, crashAfter: 2})
    expect(existsSync(join(dir, 'checkpoints', 'checkpoint-6')), 'a later checkpoint of the old run').to.equal(false)
    expect(readLosses(join(dir, 'losses.jsonl')).map(l => l.step)).to.deep.equal([1, 2])
  })

  it('a step that says the stage is finished ends the run after its losses.jsonl line, without a checkpoint of it', async () => {
    const dir = tmpDir()
    const r = await toyRun({dir, finishAt: 6})
    expect(r.result).to.include({stepsDone: 6, finishedEarly: true})
    expect(r.result.lastCheckpoint).to.match(/checkpoint-4$/)
    expect(readLosses(join(dir, 'losses.jsonl')).length).to.equal(6)
  })
})
