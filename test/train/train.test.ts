import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {readdirSync} from 'node:fs'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {AdamW} from '../../src/train/adamw.js'
import {cosineWithWarmup, ReduceLROnPlateau} from '../../src/train/schedule.js'
import {clipCoefficient} from '../../src/train/clip.js'
import {CheckpointManager} from '../../src/train/checkpoint.js'
import {trainLoop} from '../../src/train/loop.js'
import {NonFiniteLoss} from '../../src/errors.js'
import {Rng} from '../../src/util/rng.js'

describe('train utilities', () => {
  before(async () => {
    await useTestBackend()
  })

  it('AdamW matches a hand-computed torch.optim.AdamW trajectory', () => {
    // Reference values computed by the update rule of torch.optim.AdamW (lr 0.1, wd 0.1), 3 steps
    // on f(p) = sum(p^2) from p = [1, -2]: decay first, then the Adam step.
    const p = tf.variable(tf.tensor1d([1, -2]))
    const opt = new AdamW(new Map([['p', p]]), {lr: 0.1, weightDecay: 0.1})
    let m = [0, 0],
      v = [0, 0],
      ref = [1, -2]
    for (let s = 1; s <= 3; s++) {
      const g = ref.map(x => 2 * x)
      m = m.map((mi, i) => 0.9 * mi + 0.1 * g[i])
      v = v.map((vi, i) => 0.999 * vi + 0.001 * g[i] ** 2)
      ref = ref.map(
        (x, i) => x * (1 - 0.1 * 0.1) - (0.1 * (m[i] / (1 - 0.9 ** s))) / (Math.sqrt(v[i] / (1 - 0.999 ** s)) + 1e-8)
      )
      const grad = tf.tidy(() => p.mul(2))
      opt.applyGradients(new Map([['p', grad]]))
      grad.dispose()
    }
    const got = p.dataSync()
    expect(got[0]).to.be.closeTo(ref[0], 1e-5)
    expect(got[1]).to.be.closeTo(ref[1], 1e-5)
  })

  it('AdamW state export/import continues the same trajectory', async () => {
    const run = async (split: boolean) => {
      const p = tf.variable(tf.tensor1d([0.5, 1.5, -1]))
      let opt = new AdamW(new Map([['p', p]]), {lr: 0.05, weightDecay: 0.01})
      for (let s = 0; s < 6; s++) {
        if (split && s === 3) {
          const state = await opt.exportState()
          opt = new AdamW(new Map([['p', p]]), {lr: 0.05, weightDecay: 0.01})
          opt.importState(state)
        }
        const g = tf.tidy(() => p.sin())
        opt.applyGradients(new Map([['p', g]]))
        g.dispose()
      }
      return Array.from(p.dataSync())
    }
    expect(await run(true)).to.deep.equal(await run(false))
  })

  it('cosine schedule warms up linearly then decays to zero; plateau cuts the rate', () => {
    expect(cosineWithWarmup(0, 100, 10, 1)).to.equal(0)
    expect(cosineWithWarmup(5, 100, 10, 1)).to.be.closeTo(0.5, 1e-12)
    expect(cosineWithWarmup(10, 100, 10, 1)).to.be.closeTo(1, 1e-12)
    expect(cosineWithWarmup(55, 100, 10, 1)).to.be.closeTo(0.5, 1e-12)
    expect(cosineWithWarmup(100, 100, 10, 1)).to.be.closeTo(0, 1e-12)
    const plateau = new ReduceLROnPlateau(1e-3, 'max', 0.1, 2)
    for (const v of [0.5, 0.6, 0.6, 0.6]) plateau.observe(v)
    expect(plateau.lr).to.be.closeTo(1e-3, 1e-12)
    plateau.observe(0.6)
    expect(plateau.lr).to.be.closeTo(1e-4, 1e-12)
  })

  it('clips by global norm like clip_grad_norm_', () => {
    const grads = new Map<string, tf.Tensor>([
      ['a', tf.tensor1d([3, 0])],
      ['b', tf.tensor2d([[0, 4]])]
    ])
    const {coef, norm} = clipCoefficient(grads, 1)
    expect(norm).to.be.closeTo(5, 1e-6)
    expect(coef).to.be.closeTo(1 / (5 + 1e-6), 1e-9)
    expect(clipCoefficient(grads, 10).coef).to.equal(1)
    tf.dispose([...grads.values()])
  })

  it('checkpoints are complete or absent, pruned only after the new one exists', async () => {
    const dir = tmpDir()
    const mgr = new CheckpointManager(join(dir, 'ck'), 2)
    const rng = new Rng(3)
    for (const step of [10, 20, 30]) {
      await mgr.save(step, {
        params: new Map([['w', tf.tensor1d([step, step + 1])]]),
        optimizer: new Map(),
        state: {rng: rng.getState()}
      })
    }
    expect(readdirSync(join(dir, 'ck')).sort()).to.deep.equal(['checkpoint-20', 'checkpoint-30'])
    const loaded = await mgr.load((await mgr.latest())!)
    expect(loaded.step).to.equal(30)
    expect(Array.from(loaded.params.get('w')!.data as Float32Array)).to.deep.equal([30, 31])
    expect(loaded.state.rng).to.deep.equal(rng.getState())
  })

  it('stops with NonFiniteLoss naming the step and keeps the last good checkpoint', async () => {
    const saved: number[] = []
    try {
      await trainLoop({
        label: 'test',
        totalSteps: 10,
        startStep: 0,
        checkpointEvery: 2,
        step: i => (i === 5 ? NaN : 1 / (i + 1)),
        checkpoint: async n => {
          saved.push(n)
          return `ck-${n}`
        }
      })
      expect.fail('should have thrown')
    } catch (err) {
      expect(err).to.be.instanceOf(NonFiniteLoss)
      expect((err as Error).message).to.match(/at step 6; last good checkpoint ck-4/)
      expect((err as NonFiniteLoss).exitCode).to.equal(4)
    }
    expect(saved).to.deep.equal([2, 4])
  })
})
