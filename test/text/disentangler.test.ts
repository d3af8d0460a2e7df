// The text disentangler: PyTorch names and shapes, loss that falls, and exact resume.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {Rng} from '../../src/util/rng.js'
import {
  initTextDisentangler,
  textDisentanglerConfig,
  textDisentanglerConfigFrom,
  textDisentanglerForward
} from '../../src/models/text-disentangler.js'
import {
  cosineEmbeddingLoss,
  trainTextDisentangler,
  type AlignmentData,
  type TextTrainOptions
} from '../../src/stages/align-text/trainer.js'

/** Embeddings whose first 8 dims carry the anatomy target and next 8 the style target, plus noise. */
function toyData(n: number, embedDim: number, seed: number): AlignmentData {
  const rng = new Rng(seed)
  const embeddings = rng.normalArray(n * embedDim, 0.1)
  const anatomy = new Float32Array(n * 8)
  const style = new Float32Array(n * 8)
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 8; k++) {
      anatomy[i * 8 + k] = rng.uniform()
      style[i * 8 + k] = rng.normal()
      embeddings[i * embedDim + k] += anatomy[i * 8 + k]
      embeddings[i * embedDim + 8 + k] += style[i * 8 + k]
    }
  }
  return {embeddings, anatomy, style, n}
}

describe('text disentangler', () => {
  before(async () => {
    await useTestBackend()
  })

  it("has the authors' state_dict names and output shapes", () => {
    const c = textDisentanglerConfig(768)
    const params = initTextDisentangler(c, 1)
    expect([...params.keys()].sort()).to.deep.equal([
      'anatomy_encoder.0.bias',
      'anatomy_encoder.0.weight',
      'anatomy_encoder.3.bias',
      'anatomy_encoder.3.weight',
      'decoder.0.bias',
      'decoder.0.weight',
      'decoder.2.bias',
      'decoder.2.weight',
      'modality_encoder.0.bias',
      'modality_encoder.0.weight',
      'modality_encoder.3.bias',
      'modality_encoder.3.weight'
    ])
    expect(params.get('anatomy_encoder.0.weight')!.shape).to.deep.equal([768, 512])
    expect(params.get('decoder.0.weight')!.shape).to.deep.equal([16, 512])
    expect(params.get('decoder.2.weight')!.shape).to.deep.equal([512, 768])
    const out = tf.tidy(() => {
      const o = textDisentanglerForward(params, c, tf.ones([3, 768]), {training: false})
      return [o.anatomy.shape, o.style.shape, o.reconstruction.shape]
    })
    expect(out).to.deep.equal([
      [3, 8],
      [3, 8],
      [3, 768]
    ])
    tf.dispose([...params.values()])
  })

  it('a 24-d anatomy head (occupancy+shape) beside the 8-d style head: decoder input 32, and older configs (one featureDim) still read', () => {
    const c = textDisentanglerConfig(64, {anatomyDim: 24, styleDim: 8})
    const params = initTextDisentangler(c, 1)
    expect(params.get('anatomy_encoder.3.weight')!.shape).to.deep.equal([512, 24])
    expect(params.get('modality_encoder.3.weight')!.shape).to.deep.equal([512, 8])
    expect(params.get('decoder.0.weight')!.shape).to.deep.equal([32, 512])
    const out = tf.tidy(() => {
      const o = textDisentanglerForward(params, c, tf.ones([2, 64]), {training: false})
      return [o.anatomy.shape, o.style.shape, o.reconstruction.shape]
    })
    expect(out).to.deep.equal([
      [2, 24],
      [2, 8],
      [2, 64]
    ])
    tf.dispose([...params.values()])
    expect(textDisentanglerConfigFrom({embedDim: 768, hidden: 512, featureDim: 8, dropout: 0.1})).to.deep.equal({
      embedDim: 768,
      hidden: 512,
      anatomyDim: 8,
      styleDim: 8,
      dropout: 0.1
    })
    expect(textDisentanglerConfigFrom({...c})).to.deep.equal(c)
    expect(textDisentanglerConfigFrom({embedDim: 768, hidden: 512})).to.equal(null)
  })

  it('cosine embedding loss is 1 - cos, per row, averaged', () => {
    const v = tf.tidy(
      () =>
        cosineEmbeddingLoss(
          tf.tensor2d([
            [1, 0],
            [1, 1]
          ]),
          tf.tensor2d([
            [0, 2],
            [2, 2]
          ])
        ).dataSync()[0]
    )
    expect(v).to.be.closeTo(0.5, 1e-6) // rows: 1 - 0 and 1 - 1
  })

  it('trains (loss falls) and resumes exactly from a checkpoint', async () => {
    const embedDim = 24
    const data = toyData(80, embedDim, 3)
    const trainIdx = Array.from({length: 64}, (_, i) => i)
    const base = (dir: string): TextTrainOptions => ({
      model: textDisentanglerConfig(embedDim),
      seed: 5,
      epochs: 6,
      batchSize: 16,
      lr: 1e-3,
      alignWeight: 1,
      reconWeight: 0.5,
      checkpointDir: dir,
      checkpointEvery: 4,
      keepCheckpoints: 2,
      resume: false
    })
    process.env.MEDGEN_QUIET = '1'
    const full = await trainTextDisentangler(data, trainIdx, base(tmpDir()))
    expect(full.stepsDone).to.equal(24)
    expect(full.history).to.have.length(6)
    expect(full.history[5].loss).to.be.lessThan(full.history[0].loss * 0.8)
    const dir = tmpDir()
    const part = await trainTextDisentangler(data, trainIdx, {...base(dir), stopAfterSteps: 10})
    expect(part.stepsDone).to.equal(10)
    tf.dispose([...part.params.values()])
    const resumed = await trainTextDisentangler(data, trainIdx, {...base(dir), resume: true})
    expect(resumed.stepsDone).to.equal(24)
    for (const [name, v] of full.params) {
      const diff = tf.tidy(() => v.sub(resumed.params.get(name)!).abs().max().dataSync()[0])
      expect(diff, name).to.equal(0)
    }
    expect(resumed.history.map(h => h.loss)).to.deep.equal(full.history.map(h => h.loss))
    tf.dispose([...full.params.values(), ...resumed.params.values()])
  })
})
