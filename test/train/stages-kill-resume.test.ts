// Every training stage resumes exactly through the trainer frame (issue 22 item 3): run A trains
// uninterrupted; run B ends after step k without that step's checkpoint (the frame's crashAfter,
// what MEDGEN_CRASH_AFTER_STEP's kill -9 leaves on disk), is resumed from its last checkpoint and
// finishes. Both must end with the same weights (within 1e-6) and the same losses.jsonl. The
// CLI's real kill -9 of each stage is test/reliability/kill-resume.test.ts.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {expectSameLosses, readLosses} from '../helpers/losses.js'
import {Rng} from '../../src/util/rng.js'
import type {TensorMap} from '../../src/io/tensor-map.js'
import {trainClassifier, type TrainOptions} from '../../src/stages/classify/train.js'
import {disposeClassifier} from '../../src/models/classifier/index.js'
import {sdnetConfig} from '../../src/models/sdnet/config.js'
import {trainSdnet, type VisualTrainOptions} from '../../src/stages/visual/trainer.js'
import {textDisentanglerConfig} from '../../src/models/text-disentangler.js'
import {trainTextDisentangler, type TextTrainOptions} from '../../src/stages/align-text/trainer.js'
import {buildDitModel} from '../../src/stages/dit/model.js'
import {DitTrainer} from '../../src/stages/dit/trainer.js'
import {trainVae} from '../../src/stages/dit/vae-train.js'
import {toySet} from '../classify/helpers.js'
import {syntheticVisualData} from '../visual/synthetic.js'
import {syntheticSet, tinySpec} from '../dit/synthetic.js'

type Weights = Map<string, Float32Array>

async function read(vars: Map<string, tf.Tensor>): Promise<Weights> {
  const out: Weights = new Map()
  for (const [k, v] of vars) out.set(k, new Float32Array((await v.data()) as Float32Array))
  return out
}

function host(state: TensorMap): Weights {
  return new Map([...state].map(([k, t]) => [k, Float32Array.from(t.data as ArrayLike<number>, Number)]))
}

function expectSameWeights(b: Weights, a: Weights): number {
  expect([...b.keys()]).to.deep.equal([...a.keys()])
  let worst = 0
  for (const [k, x] of a) {
    const y = b.get(k)!
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]))
  }
  expect(worst).to.be.at.most(1e-6)
  return worst
}

/** Both runs' losses.jsonl agree; B's was cut back to its checkpoint on resume (it had lines past it). */
function expectLossesResumed(dirB: string, dirA: string, total: number, fields: string[]): void {
  const a = readLosses(join(dirA, 'losses.jsonl'))
  expect(a.map(l => l.step)).to.deep.equal(Array.from({length: total}, (_, i) => i + 1))
  expect(a[0]).to.include.keys('step', 'lr', 'loss', ...fields)
  expectSameLosses(join(dirB, 'losses.jsonl'), join(dirA, 'losses.jsonl'))
}

describe('train: every training stage resumes exactly after a crash (in process)', function () {
  this.timeout(600_000)
  before(async () => {
    await useTestBackend()
    process.env.MEDGEN_QUIET = '1'
  })

  it('classify: crash after step 5 (checkpoint at 4), resume: same weights, history and losses.jsonl', async () => {
    const train = toySet(40, 12, 4),
      val = toySet(12, 12, 5)
    const opts = (dir: string): TrainOptions => ({
      preset: 'small-cnn',
      numClasses: 3,
      epochs: 2,
      batchSize: 8,
      lr: 3e-3,
      weightDecay: 1e-4,
      balanced: true,
      standardize: true,
      augment: true,
      patience: 10,
      seed: 5,
      dir,
      resume: true,
      checkpointEvery: 2
    })
    const [a, b] = [tmpDir(), tmpDir()]
    const full = await trainClassifier(train, val, opts(a))
    const crashed = await trainClassifier(train, val, {...opts(b), crashAfter: 5})
    disposeClassifier(crashed.model)
    expect(readLosses(join(b, 'losses.jsonl')).length).to.equal(5)
    const resumed = await trainClassifier(train, val, opts(b))
    expectSameWeights(
      await read(new Map([...resumed.model.params, ...resumed.model.buffers])),
      await read(new Map([...full.model.params, ...full.model.buffers]))
    )
    expect(resumed.history).to.deep.equal(full.history)
    expectLossesResumed(b, a, 10, ['crossEntropy'])
    disposeClassifier(full.model)
    disposeClassifier(resumed.model)
  })

  it('train-visual: crash after step 3 (checkpoint at 2), resume: same weights, BN statistics and losses.jsonl', async () => {
    const data = syntheticVisualData(20, 32, 13, {val: 0.2, test: 0}) // 16 train: 2 steps per epoch
    const opts = (dir: string): VisualTrainOptions => ({
      model: sdnetConfig({imageSize: 32, ndf: 4, adain: 'learned'}),
      seed: 7,
      epochs: 3,
      batchSize: 8,
      lr: 3e-3,
      checkpointDir: join(dir, 'checkpoints'),
      checkpointEvery: 2,
      keepCheckpoints: 2,
      resume: true,
      losses: join(dir, 'losses.jsonl')
    })
    const [a, b] = [tmpDir(), tmpDir()]
    const full = await trainSdnet(data, opts(a))
    const crashed = await trainSdnet(data, {...opts(b), crashAfter: 3})
    expect(crashed.lastCheckpoint).to.match(/checkpoint-2$/)
    crashed.model.dispose()
    const resumed = await trainSdnet(data, opts(b))
    expectSameWeights(host(await resumed.model.stateDict()), host(await full.model.stateDict()))
    expect(resumed.history).to.deep.equal(full.history)
    expectLossesResumed(b, a, 6, ['reconstruction', 'kl', 'dice', 'regression'])
    full.model.dispose()
    resumed.model.dispose()
  })

  it('align-text: crash after step 7 (checkpoint at 4), resume: same weights and losses.jsonl (anatomy, style, reconstruction)', async () => {
    const rng = new Rng(3)
    const n = 48,
      embedDim = 24
    const data = {
      embeddings: rng.normalArray(n * embedDim),
      anatomy: rng.normalArray(n * 8),
      style: rng.normalArray(n * 8),
      n
    }
    const trainIdx = Array.from({length: 40}, (_, i) => i)
    const opts = (dir: string): TextTrainOptions => ({
      model: textDisentanglerConfig(embedDim),
      seed: 5,
      epochs: 3,
      batchSize: 16,
      lr: 1e-3,
      alignWeight: 1,
      reconWeight: 0.5,
      checkpointDir: join(dir, 'checkpoints'),
      checkpointEvery: 4,
      keepCheckpoints: 2,
      resume: true,
      losses: join(dir, 'losses.jsonl')
    })
    const [a, b] = [tmpDir(), tmpDir()]
    const full = await trainTextDisentangler(data, trainIdx, opts(a))
    const crashed = await trainTextDisentangler(data, trainIdx, {...opts(b), crashAfter: 7})
    tf.dispose([...crashed.params.values()])
    const resumed = await trainTextDisentangler(data, trainIdx, opts(b))
    expectSameWeights(await read(resumed.params), await read(full.params))
    expect(resumed.history).to.deep.equal(full.history)
    expectLossesResumed(b, a, 9, ['anatomy', 'style', 'reconstruction'])
    tf.dispose([...full.params.values(), ...resumed.params.values()])
  })

  it('finetune-dit: crash after step 5 (checkpoint at 4), resume: same LoRA + HFFM weights and losses.jsonl (diffusion, colour)', async () => {
    const spec = tinySpec('hffm')
    const opts = {
      steps: 8,
      batchSize: 4,
      lr: 3e-3,
      weightDecay: 0.01,
      warmupSteps: 2,
      gradClip: 1,
      condDropout: 0.1,
      colour: {mode: 'train' as const, weight: 0.05, every: 2},
      seed: 5
    }
    const trainer = () => new DitTrainer(buildDitModel(spec, null, new Rng(1)), syntheticSet(), opts)
    const [a, b] = [tmpDir(), tmpDir()]
    const full = trainer()
    await full.train(join(a, 'checkpoints'), 2, 2, 'latest', undefined, join(a, 'losses.jsonl'))
    const crashed = trainer()
    const r = await crashed.train(join(b, 'checkpoints'), 4, 2, 'latest', 5, join(b, 'losses.jsonl'))
    expect(r).to.deep.include({stepsDone: 5})
    expect(r.lastCheckpoint).to.match(/checkpoint-4$/)
    const resumed = trainer()
    await resumed.train(join(b, 'checkpoints'), 2, 2, 'latest', undefined, join(b, 'losses.jsonl'))
    expectSameWeights(await read(resumed.params), await read(full.params))
    expect(resumed.history).to.deep.equal(full.history)
    expectLossesResumed(b, a, 8, ['diffusion'])
    expect(
      readLosses(join(a, 'losses.jsonl'))
        .filter(l => 'colour' in l)
        .map(l => l.step),
      'colour term on every 2nd step'
    ).to.deep.equal([1, 3, 5, 7])
    for (const t of [full, resumed, crashed]) t.optimizer.dispose()
  })

  it('the demo VAE (dit.vae.train): crash after step 5 (checkpoint at 3), resume: same weights, scaling factor and losses.jsonl (l1, kl)', async () => {
    const rng = new Rng(11)
    const side = 16
    const images = Array.from({length: 8}, () => Float32Array.from(rng.normalArray(side * side * 3), v => Math.tanh(v)))
    const base = {
      in_channels: 3,
      out_channels: 3,
      latent_channels: 4,
      block_out_channels: [8, 16],
      layers_per_block: 1,
      norm_num_groups: 4
    }
    const opts = (dir: string) => ({
      steps: 8,
      batchSize: 2,
      lr: 3e-3,
      klWeight: 1e-6,
      seed: 5,
      checkpoints: {dir: join(dir, 'checkpoints'), every: 3, keep: 2},
      losses: join(dir, 'losses.jsonl')
    })
    const [a, b] = [tmpDir(), tmpDir()]
    const full = await trainVae(images, side, base, opts(a))
    const crashed = await trainVae(images, side, base, {...opts(b), crashAfter: 5})
    tf.dispose([...crashed.params.values()])
    const resumed = await trainVae(images, side, base, opts(b))
    expectSameWeights(await read(resumed.params), await read(full.params))
    expect(resumed.history).to.deep.equal(full.history)
    expect(resumed.config.scaling_factor).to.equal(full.config.scaling_factor)
    expectLossesResumed(b, a, 8, ['l1', 'kl'])
    tf.dispose([...full.params.values(), ...resumed.params.values()])
  })
})
