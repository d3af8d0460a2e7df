// The align-text stage end to end on synthetic captions with known attributes: outputs and
// their contents, held-out alignment, the disentanglement probes, the t-SNE picture, the
// conditioner used downstream, skip-when-up-to-date and the embedding cache.
import {expect} from 'chai'
import {join} from 'node:path'
import {readFileSync, readdirSync} from 'node:fs'
import sharp from 'sharp'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {loadConfig} from '../../src/config/load.js'
import {readSafetensors, readSafetensorsMetadata, writeSafetensors} from '../../src/io/safetensors.js'
import {runStage} from '../../src/stages/stage.js'
import {alignTextStage} from '../../src/stages/align-text.js'
import {loadTextConditioner} from '../../src/text/conditioner.js'
import {writeSyntheticAlignmentRun} from './synthetic-captions.js'

describe('align-text stage (synthetic measured captions)', function () {
  this.timeout(240000)
  const runDir = tmpDir()
  const config = loadConfig({
    sets: [
      `run.dir=${runDir}`,
      'run.seed=3',
      'text.encoder=hashed',
      'text.hashedDim=256',
      'text.epochs=12',
      'text.lr=0.001',
      'text.tsnePoints=60',
      'text.tsneIterations=250',
      'text.tsnePerplexity=10',
      'text.checkpointEvery=50'
    ]
  })
  let metrics: any

  before(async () => {
    await useTestBackend()
    process.env.MEDGEN_QUIET = '1'
    await writeSyntheticAlignmentRun(runDir, 240, 11)
    const result = await runStage(alignTextStage, config)
    expect(result.skipped).to.equal(false)
    metrics = JSON.parse(readFileSync(join(runDir, 'text', 'metrics.json'), 'utf8'))
  })

  it('writes the heads with PyTorch names and the encoder description', async () => {
    const model = await readSafetensors(join(runDir, 'text', 'model.safetensors'))
    expect(model.get('anatomy_encoder.0.weight')!.shape).to.deep.equal([512, 256]) // PyTorch [out, in]
    expect(model.get('modality_encoder.3.weight')!.shape).to.deep.equal([8, 512])
    expect(model.get('decoder.2.weight')!.shape).to.deep.equal([256, 512])
    const meta = await readSafetensorsMetadata(join(runDir, 'text', 'model.safetensors'))
    expect(JSON.parse(meta.encoder)).to.deep.equal({kind: 'hashed', dim: 256})
  })

  it('writes text features for every caption, by id', async () => {
    const features = await readSafetensors(join(runDir, 'text', 'features.safetensors'))
    const ids = JSON.parse((await readSafetensorsMetadata(join(runDir, 'text', 'features.safetensors'))).ids)
    expect(ids).to.have.length(240)
    expect(features.get('anatomy')!.shape).to.deep.equal([240, 8])
    expect(features.get('style')!.shape).to.deep.equal([240, 8])
  })

  it('aligns held-out captions with their visual targets far better than before training', () => {
    const c = metrics.cosine
    console.log(
      `      held-out cosine anatomy ${c.heldOut.anatomy.toFixed(3)} (before ${c.beforeHeldOut.anatomy.toFixed(3)}), style ${c.heldOut.style.toFixed(3)} (before ${c.beforeHeldOut.style.toFixed(3)}), n=${c.heldOut.n}`
    )
    expect(c.heldOut.n).to.be.greaterThan(40)
    expect(c.heldOut.anatomy).to.be.greaterThan(c.beforeHeldOut.anatomy + 0.2)
    expect(c.heldOut.style).to.be.greaterThan(c.beforeHeldOut.style + 0.2)
    expect(metrics.training.history[metrics.training.history.length - 1].loss).to.be.lessThan(
      metrics.training.history[0].loss
    )
  })

  it('probes: anatomy head predicts shape better than the style head; style head predicts colour better', () => {
    const {shape, colour} = metrics.probes
    console.log(
      `      shape: anatomy head ${shape.fromAnatomyHead.accuracy.toFixed(3)} vs style head ${shape.fromStyleHead.accuracy.toFixed(3)} (chance ${shape.fromAnatomyHead.chance.toFixed(3)})`
    )
    console.log(
      `      colour: style head ${colour.fromStyleHead.accuracy.toFixed(3)} vs anatomy head ${colour.fromAnatomyHead.accuracy.toFixed(3)} (chance ${colour.fromStyleHead.chance.toFixed(3)})`
    )
    expect(shape.fromAnatomyHead.accuracy).to.be.greaterThan(shape.fromStyleHead.accuracy + 0.15)
    expect(colour.fromStyleHead.accuracy).to.be.greaterThan(colour.fromAnatomyHead.accuracy + 0.15)
  })

  it('draws tsne.png: decodes, not blank, several colours', async () => {
    const {data, info} = await sharp(join(runDir, 'text', 'tsne.png'))
      .raw()
      .toBuffer({resolveWithObject: true})
    expect(info.width).to.be.greaterThan(400)
    let sum = 0,
      sumSq = 0
    const colours = new Set<string>()
    for (let i = 0; i < data.length; i += info.channels) {
      const v = data[i] + data[i + 1] + data[i + 2]
      sum += v
      sumSq += v * v
      colours.add(`${data[i] >> 4},${data[i + 1] >> 4},${data[i + 2] >> 4}`)
    }
    const pixels = data.length / info.channels
    expect(sumSq / pixels - (sum / pixels) ** 2).to.be.greaterThan(0)
    expect(colours.size).to.be.greaterThan(6)
    expect(metrics.tsne.after.points).to.equal(120)
  })

  it('loadTextConditioner reproduces the stored text features from the captions', async () => {
    const cond = await loadTextConditioner(runDir, config)
    const captions = readFileSync(join(runDir, 'captions', 'captions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .slice(0, 5)
      .map(l => JSON.parse(l).caption)
    const out = await cond.encodeTexts(captions)
    const stored = (await readSafetensors(join(runDir, 'text', 'features.safetensors'))).get('anatomy')!
      .data as Float32Array
    for (let k = 0; k < 5 * 8; k++) expect(out.anatomy[k]).to.be.closeTo(stored[k], 1e-5)
    expect(out.embedding.shape).to.deep.equal([5, 256])
    expect([out.anatomyDim, out.styleDim]).to.deep.equal([8, 8])
    out.embedding.dispose()
    cond.dispose()

    // text/model.safetensors of a run made before anatomyDim/styleDim (config with one featureDim) still loads
    const legacyDir = tmpDir()
    const path = join(runDir, 'text', 'model.safetensors')
    const meta = await readSafetensorsMetadata(path)
    const {anatomyDim, styleDim, ...rest} = JSON.parse(meta.config)
    expect([anatomyDim, styleDim]).to.deep.equal([8, 8])
    await writeSafetensors(join(legacyDir, 'text', 'model.safetensors'), await readSafetensors(path), {
      ...meta,
      config: JSON.stringify({...rest, featureDim: 8})
    })
    const legacy = await loadTextConditioner(legacyDir, config)
    const again = await legacy.encodeTexts(captions)
    expect(Array.from(again.anatomy)).to.deep.equal(Array.from(out.anatomy))
    expect(Array.from(again.style)).to.deep.equal(Array.from(out.style))
    again.embedding.dispose()
    legacy.dispose()
  })

  it('is skipped when up to date, and a forced rerun reuses the cached embeddings', async () => {
    expect((await runStage(alignTextStage, config)).skipped).to.equal(true)
    const before = tf.memory().numTensors
    await runStage(alignTextStage, config, {force: true})
    const manifest = JSON.parse(readFileSync(join(runDir, 'text', 'manifest.json'), 'utf8'))
    expect(manifest.notes.embeddingsCached).to.equal(true)
    expect(readdirSync(join(runDir, 'cache', 'text'))).to.have.length(1)
    // a whole forced stage run leaves no tensor behind
    expect(tf.memory().numTensors - before).to.equal(0)
  })
})

describe('align-text stage: 24-d anatomy targets (visual.anatomyVector occupancy+shape) beside 8-d style', function () {
  this.timeout(120000)
  it('sizes the anatomy head, decoder, features, metrics and conditioner from the feature shapes', async () => {
    await useTestBackend()
    process.env.MEDGEN_QUIET = '1'
    const runDir = tmpDir()
    await writeSyntheticAlignmentRun(runDir, 120, 4, {anatomyDim: 24})
    const config = loadConfig({
      sets: [
        `run.dir=${runDir}`,
        'run.seed=2',
        'text.encoder=hashed',
        'text.hashedDim=64',
        'text.epochs=4',
        'text.lr=0.001',
        'text.tsnePoints=20',
        'text.tsneIterations=60',
        'text.tsnePerplexity=5'
      ]
    })
    await runStage(alignTextStage, config)
    const model = await readSafetensors(join(runDir, 'text', 'model.safetensors'))
    expect(model.get('anatomy_encoder.3.weight')!.shape).to.deep.equal([24, 512]) // PyTorch [out, in]
    expect(model.get('modality_encoder.3.weight')!.shape).to.deep.equal([8, 512])
    expect(model.get('decoder.0.weight')!.shape).to.deep.equal([512, 32])
    const features = await readSafetensors(join(runDir, 'text', 'features.safetensors'))
    expect(features.get('anatomy')!.shape).to.deep.equal([120, 24])
    expect(features.get('style')!.shape).to.deep.equal([120, 8])
    const m = JSON.parse(readFileSync(join(runDir, 'text', 'metrics.json'), 'utf8'))
    expect(m).to.include({anatomyVector: 'occupancy+shape', anatomyDim: 24, styleDim: 8})
    expect(m.cosine.heldOut.anatomy).to.be.greaterThan(m.cosine.beforeHeldOut.anatomy)
    expect(m.probes.shape.fromAnatomyHead.nTest).to.be.greaterThan(0)
    // the untrained heads' probes are recorded as the control
    expect(m.probesBefore.shape.fromAnatomyHead.nTest).to.equal(m.probes.shape.fromAnatomyHead.nTest)
    expect(m.probesBefore.colour.fromStyleHead.accuracy).to.be.within(0, 1)
    const cond = await loadTextConditioner(runDir, config)
    const out = await cond.encodeTexts(['a round lesion', 'an oval lesion'])
    expect([out.anatomy.length, out.style.length, out.anatomyDim, out.styleDim]).to.deep.equal([48, 16, 24, 8])
    out.embedding.dispose()
    cond.dispose()
  })
})

describe('align-text stage: interruption and exact resume', function () {
  this.timeout(120000)
  before(async () => {
    await useTestBackend()
    process.env.MEDGEN_QUIET = '1'
  })

  it('an interrupted run exits 75 with a checkpoint and resumes to the same model as an uninterrupted one', async () => {
    const sets = [
      'run.seed=9',
      'text.encoder=hashed',
      'text.hashedDim=64',
      'text.epochs=3',
      'text.lr=0.001',
      'text.tsnePoints=0',
      'text.checkpointEvery=100'
    ]
    const {alignText} = await import('../../src/stages/align-text.js')
    const dirs = [tmpDir(), tmpDir()]
    for (const d of dirs) await writeSyntheticAlignmentRun(d, 90, 5)
    const ctxOf = (d: string) => ({
      config: loadConfig({sets: [`run.dir=${d}`, ...sets]}),
      runDir: d,
      outDir: join(d, 'text'),
      force: false,
      resume: true
    })
    await alignText(ctxOf(dirs[0]))
    let code = 0
    try {
      await alignText(ctxOf(dirs[1]), {stopAfterSteps: 4})
    } catch (err) {
      code = (err as {exitCode: number}).exitCode
    }
    expect(code).to.equal(75)
    await alignText(ctxOf(dirs[1]))
    const [a, b] = await Promise.all(dirs.map(d => readSafetensors(join(d, 'text', 'model.safetensors'))))
    for (const [name, t] of a)
      expect(Array.from(b.get(name)!.data as Float32Array), name).to.deep.equal(Array.from(t.data as Float32Array))
  })
})
