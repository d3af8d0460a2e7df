// One short training step of every training stage, through each stage's own trainer, on the
// backend under test: it runs in the default suite (wasm) and again in `npm run test:cpu`
// (issue 24 item 4: cpu stands in for a non-wasm backend), so a kernel or gradient path that
// works on wasm only fails here. Each step must give a finite loss and move the weights.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {Rng} from '../../src/util/rng.js'
import {sdnetConfig} from '../../src/models/sdnet/config.js'
import {trainSdnet} from '../../src/stages/visual/trainer.js'
import {textDisentanglerConfig} from '../../src/models/text-disentangler.js'
import {trainTextDisentangler} from '../../src/stages/align-text/trainer.js'
import {buildDitModel} from '../../src/stages/dit/model.js'
import {DitTrainer} from '../../src/stages/dit/trainer.js'
import {trainClassifier} from '../../src/stages/classify/train.js'
import {disposeClassifier} from '../../src/models/classifier/index.js'
import {syntheticVisualData} from '../visual/synthetic.js'
import {syntheticSet, tinySpec} from '../dit/synthetic.js'
import {toySet} from '../classify/helpers.js'
import {initPixArtParams} from '../../src/models/pixart/transformer.js'

process.env.MEDGEN_QUIET = '1'

async function snapshot(params: Iterable<tf.Tensor>): Promise<Float32Array[]> {
  const out: Float32Array[] = []
  for (const p of params) out.push(new Float32Array((await p.data()) as Float32Array))
  return out
}

function moved(before: Float32Array[], after: Float32Array[]): boolean {
  return before.some((b, i) => b.some((v, j) => v !== after[i][j]))
}

describe('one training step of each stage on the backend under test', function () {
  this.timeout(300_000)
  before(async () => {
    await useTestBackend()
  })

  it('train-visual (SDNet): one step', async () => {
    const data = syntheticVisualData(10, 32, 11, {val: 0.2, test: 0})
    const r = await trainSdnet(data, {
      model: sdnetConfig({imageSize: 32, ndf: 4, adain: 'learned'}),
      seed: 7,
      epochs: 1,
      batchSize: 8,
      lr: 3e-3,
      checkpointDir: tmpDir(),
      checkpointEvery: 100,
      keepCheckpoints: 1,
      resume: false
    })
    expect(r.stepsDone).to.equal(1)
    expect(Number.isFinite(r.history.steps[0].loss), String(r.history.steps[0].loss)).to.equal(true)
    r.model.dispose()
  })

  it('align-text (text disentangler): one step moves the heads', async () => {
    const rng = new Rng(3)
    const n = 16
    const data = {
      embeddings: rng.normalArray(n * 24, 0.5),
      anatomy: Float32Array.from({length: n * 8}, () => rng.uniform()),
      style: rng.normalArray(n * 8),
      n
    }
    const r = await trainTextDisentangler(
      data,
      Array.from({length: n}, (_, i) => i),
      {
        model: textDisentanglerConfig(24),
        seed: 5,
        epochs: 1,
        batchSize: 16,
        lr: 1e-3,
        alignWeight: 1,
        reconWeight: 0.5,
        checkpointDir: tmpDir(),
        checkpointEvery: 100,
        keepCheckpoints: 1,
        resume: false
      }
    )
    expect(r.stepsDone).to.equal(1)
    expect(Number.isFinite(r.history[0].loss)).to.equal(true)
    tf.dispose([...r.params.values()])
  })

  it('finetune-dit: one step from scratch and one LoRA step on a frozen base', async () => {
    const opts = {
      steps: 1,
      batchSize: 4,
      lr: 3e-3,
      weightDecay: 0.01,
      warmupSteps: 0,
      gradClip: 1,
      condDropout: 0.5,
      colour: {mode: 'train' as const, weight: 0.05, every: 1},
      seed: 5
    }
    const spec = tinySpec('hffm')
    const set = syntheticSet()
    for (const base of [null, initPixArtParams(spec.transformer, new Rng(99))]) {
      const trainer = new DitTrainer(buildDitModel(spec, base, new Rng(1)), set, opts)
      const before = await snapshot(trainer.params.values())
      const loss = trainer.step(0)
      expect(Number.isFinite(loss), `${base ? 'LoRA' : 'scratch'} loss ${loss}`).to.equal(true)
      expect(moved(before, await snapshot(trainer.params.values())), base ? 'LoRA' : 'scratch').to.equal(true)
      tf.dispose([...trainer.params.values(), ...(base ? base.values() : [])])
    }
  })

  it('classify (small CNN): one epoch of one batch', async () => {
    const r = await trainClassifier(toySet(16, 16, 1), toySet(6, 16, 2), {
      preset: 'small-cnn',
      numClasses: 3,
      epochs: 1,
      batchSize: 16,
      lr: 3e-3,
      weightDecay: 1e-4,
      balanced: false,
      standardize: false,
      augment: true,
      patience: 10,
      seed: 5,
      dir: tmpDir(),
      resume: true,
      checkpointEvery: 1000
    })
    expect(r.epochsRun).to.equal(1)
    expect(Number.isFinite(r.history[0].trainLoss)).to.equal(true)
    disposeClassifier(r.model)
  })
})
