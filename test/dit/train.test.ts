// DiT training behaviour on a tiny synthetic set: the loss falls for every conditioning mode,
// a run interrupted and resumed from its checkpoint ends with the same weights as an
// uninterrupted one, and colour_loss.mode train changes the gradients while logged does not.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {Rng} from '../../src/util/rng.js'
import {buildDitModel, type DitModelSpec} from '../../src/stages/dit/model.js'
import {DitTrainer, lossSummary, type DitTrainOptions} from '../../src/stages/dit/trainer.js'
import {conditionerParamShapes, type ConditioningMode} from '../../src/models/hffm.js'
import {syntheticSet, tinySpec} from './synthetic.js'
import {initPixArtParams} from '../../src/models/pixart/transformer.js'

function options(over: Partial<DitTrainOptions> = {}): DitTrainOptions {
  return {
    steps: 40,
    batchSize: 4,
    lr: 3e-3,
    weightDecay: 0.01,
    warmupSteps: 4,
    gradClip: 1,
    condDropout: 0.1,
    colour: {mode: 'off', weight: 0.05, every: 1},
    seed: 5,
    ...over
  }
}

/** A frozen "pretrained" base (seeded random), so LoRA mode has something to adapt. */
function frozenBase(spec: DitModelSpec): Map<string, tf.Tensor> {
  const vars = initPixArtParams(spec.transformer, new Rng(99))
  const out = new Map<string, tf.Tensor>()
  for (const [k, v] of vars) {
    // proj_out starts at zero in the from-scratch init; give the base a non-trivial head
    out.set(k, k === 'proj_out.weight' ? tf.randomNormal(v.shape, 0, 0.05, 'float32', 3) : v.clone())
    v.dispose()
  }
  return out
}

async function weightsOf(t: DitTrainer): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>()
  for (const [k, v] of t.params) out.set(k, new Float32Array((await v.data()) as Float32Array))
  return out
}

describe('dit: training', function () {
  before(async () => {
    await useTestBackend()
  })
  process.env.MEDGEN_QUIET = '1'

  it("HFFM at the authors' sizes has 2,118,176 parameters (docs/REFERENCE.md §5.2, without the null pair)", () => {
    const shapes = conditionerParamShapes({
      mode: 'hffm',
      captionChannels: 4096,
      anatomyDim: 8,
      styleDim: 8,
      hidden: 256,
      textDim: 0,
      numClasses: 0
    })
    let n = 0
    for (const [k, s] of shapes) if (k !== 'null_tokens') n += s.reduce((a, b) => a * b, 1)
    expect(n).to.equal(2_118_176)
  })

  it('24-d anatomy (occupancy+shape) with 8-d style: HFFM and concat are sized per feature and train', async () => {
    const hffm = conditionerParamShapes({
      mode: 'hffm',
      captionChannels: 16,
      anatomyDim: 24,
      styleDim: 8,
      hidden: 32,
      textDim: 0,
      numClasses: 0
    })
    expect(hffm.get('norm_a.weight')).to.deep.equal([24])
    expect(hffm.get('anatomy_proj.0.weight')).to.deep.equal([32, 24])
    expect(hffm.get('norm_m.weight')).to.deep.equal([8])
    expect(hffm.get('modality_proj.0.weight')).to.deep.equal([32, 8])
    expect(
      conditionerParamShapes({
        mode: 'concat',
        captionChannels: 16,
        anatomyDim: 24,
        styleDim: 8,
        hidden: 32,
        textDim: 12,
        numClasses: 0
      }).get('concat_proj.weight')
    ).to.deep.equal([16, 12 + 24 + 8])
    for (const mode of ['hffm', 'concat'] as ConditioningMode[]) {
      const data = syntheticSet(12, 18, 16, 12, 4, 24)
      const trainer = new DitTrainer(buildDitModel(tinySpec(mode, 12, 24), null, new Rng(1)), data, options())
      for (let i = 0; i < 12; i++) trainer.step(i)
      const s = lossSummary(trainer.history)
      expect(s.lastTenthMean, mode).to.be.lessThan(s.firstTenthMean)
    }
  })

  for (const mode of ['hffm', 'concat', 'text', 'class'] as ConditioningMode[]) {
    it(`loss falls from scratch with ${mode} conditioning (first vs last 10% of 40 steps)`, async () => {
      const data = syntheticSet()
      const model = buildDitModel(tinySpec(mode), null, new Rng(1))
      const trainer = new DitTrainer(model, data, options())
      const condBefore = new Map([...model.cond].map(([k, v]) => [k, v.dataSync().slice()]))
      let tensorsAfterFirst = 0
      for (let i = 0; i < 40; i++) {
        trainer.step(i)
        if (i === 1) tensorsAfterFirst = tf.memory().numTensors
      }
      expect(tf.memory().numTensors, 'no tensors leak per step').to.equal(tensorsAfterFirst)
      const s = lossSummary(trainer.history)
      console.log(`      ${mode}: first 10% ${s.firstTenthMean.toFixed(4)} -> last 10% ${s.lastTenthMean.toFixed(4)}`)
      expect(s.lastTenthMean).to.be.lessThan(0.9 * s.firstTenthMean)
      // the condition module itself receives gradient and moves (the mode is actually trained)
      let moved = 0
      for (const [k, v] of model.cond)
        if (k !== 'null_tokens')
          moved = Math.max(moved, ...Array.from(v.dataSync(), (x, i) => Math.abs(x - condBefore.get(k)![i])))
      expect(moved).to.be.greaterThan(1e-5)
    })
  }

  it('loss falls with LoRA on a frozen base (only LoRA + HFFM train)', async () => {
    const spec = tinySpec('hffm')
    const base = frozenBase(spec)
    const before = new Map([...base].map(([k, v]) => [k, v.dataSync().slice()]))
    const model = buildDitModel(spec, base, new Rng(1))
    const trainer = new DitTrainer(model, syntheticSet(), options({lr: 1e-2}))
    expect([...trainer.params.keys()].every(k => k.includes('.lora_') || k.startsWith('hffm.'))).to.equal(true)
    for (let i = 0; i < 40; i++) trainer.step(i)
    const s = lossSummary(trainer.history)
    console.log(`      lora: first 10% ${s.firstTenthMean.toFixed(4)} -> last 10% ${s.lastTenthMean.toFixed(4)}`)
    expect(s.lastTenthMean).to.be.lessThan(s.firstTenthMean)
    for (const [k, v] of base) expect(Array.from(v.dataSync()), `${k} frozen`).to.deep.equal(Array.from(before.get(k)!))
  })

  it('resumes exactly: interrupted at step 5 (checkpoint at 3) + resumed == uninterrupted (LoRA + HFFM)', async () => {
    const spec = tinySpec('hffm')
    const opts = options({steps: 8, colour: {mode: 'train', weight: 0.05, every: 2}})
    const full = new DitTrainer(buildDitModel(spec, frozenBase(spec), new Rng(1)), syntheticSet(), opts)
    await full.train(tmpDir(), 3, 2, false)
    const dir = tmpDir()
    const first = new DitTrainer(buildDitModel(spec, frozenBase(spec), new Rng(1)), syntheticSet(), opts)
    const r1 = await first.train(dir, 3, 2, false, 5)
    expect(r1.stepsDone).to.equal(5)
    const second = new DitTrainer(buildDitModel(spec, frozenBase(spec), new Rng(1)), syntheticSet(), opts)
    const r2 = await second.train(dir, 3, 2, 'latest')
    expect(r2.stepsDone).to.equal(8)
    const a = await weightsOf(full)
    const b = await weightsOf(second)
    let maxDiff = 0
    for (const [k, v] of a) {
      const w = b.get(k)!
      for (let i = 0; i < v.length; i++) maxDiff = Math.max(maxDiff, Math.abs(v[i] - w[i]))
    }
    console.log(`      resume max abs diff over ${a.size} tensors: ${maxDiff}`)
    expect(maxDiff).to.be.at.most(1e-6)
    expect(second.history.map(h => h.loss)).to.deep.equal(full.history.map(h => h.loss))
  })

  it('colour loss: train changes the gradients, logged leaves them equal to off', async () => {
    const spec = tinySpec('hffm')
    const trainer = new DitTrainer(
      buildDitModel(spec, frozenBase(spec), new Rng(1)),
      syntheticSet(),
      options({colour: {mode: 'train', weight: 1, every: 1}})
    )
    // a few steps first so B != 0 and every LoRA path carries gradient
    for (let i = 0; i < 3; i++) trainer.step(i)
    const off = trainer.stepGradients(3, 'off')
    const logged = trainer.stepGradients(3, 'logged')
    const train = trainer.stepGradients(3, 'train')
    expect(logged.colour).to.be.a('number').and.greaterThan(0)
    let diffLogged = 0
    let diffTrain = 0
    for (const [k, g] of off.grads) {
      const a = g.dataSync()
      const l = logged.grads.get(k)!.dataSync()
      const t = train.grads.get(k)!.dataSync()
      for (let i = 0; i < a.length; i++) {
        diffLogged = Math.max(diffLogged, Math.abs(a[i] - l[i]))
        diffTrain = Math.max(diffTrain, Math.abs(a[i] - t[i]))
      }
    }
    console.log(
      `      colour: max |grad(logged) - grad(off)| = ${diffLogged}, max |grad(train) - grad(off)| = ${diffTrain}`
    )
    expect(diffLogged).to.equal(0)
    expect(diffTrain).to.be.greaterThan(1e-6)
    expect(train.loss).to.be.closeTo(train.mse + train.colour!, 1e-4)
    for (const r of [off, logged, train]) tf.dispose([...r.grads.values()])
  })
})
