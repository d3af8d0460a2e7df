import {expect} from 'chai'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {loadConfig} from '../../src/config/load.js'
import {synthesize} from '../../src/data/synth/write.js'
import {readSafetensors, readSafetensorsMetadata} from '../../src/io/safetensors.js'
import {loadSegmenter, runTrainVisual} from '../../src/stages/train-visual.js'
import {UserError} from '../../src/errors.js'
import {runLayout} from '../../src/run/layout.js'

process.env.MEDGEN_QUIET = '1'

describe('visual: train-visual stage', function () {
  this.timeout(300_000)
  let dataDir: string
  before(async () => {
    await useTestBackend()
    dataDir = join(tmpDir(), 'data')
    await synthesize({kind: 'dermoscopy', n: 24, size: 32, out: dataDir, seed: 3})
  })

  const configFor = (runDir: string, sets: Record<string, unknown> = {}) =>
    loadConfig({
      overrides: {
        'run.dir': runDir,
        'run.seed': 5,
        'data.path': dataDir,
        'data.testFraction': 0.25,
        'data.valFraction': 0.2,
        'visual.imageSize': 32,
        'visual.ndf': 4,
        'visual.epochs': 1,
        'visual.batchSize': 8,
        'visual.gridImages': 4,
        ...sets
      }
    })

  let runDir: string
  it('writes weights (PyTorch layout), features for every image, grid, curves and metrics', async () => {
    runDir = tmpDir()
    await runTrainVisual(configFor(runDir, {'visual.anatomyVector': 'occupancy+shape'}), {resume: false})
    const out = join(runDir, 'visual')
    const weights = await readSafetensors(join(out, 'model.safetensors'))
    expect(weights.get('a_encoder.unet.encoder_block1.0.weight')!.shape).to.deep.equal([4, 3, 3, 3])
    expect(weights.get('m_encoder.fc.weight')!.shape).to.deep.equal([32, 128 * 2 * 2])
    expect(weights.has('segmentor.conv1.1.running_mean')).to.equal(true)
    const meta = await readSafetensorsMetadata(join(out, 'model.safetensors'))
    expect(JSON.parse(meta.config)).to.include({imageSize: 32, ndf: 4, adain: 'learned', preset: 'sdnet-small'}) // the default form
    expect(weights.get('decoder.decoder.adain1.fc.weight')!.shape).to.deep.equal([16, 8])

    const feats = await readSafetensors(join(out, 'features.safetensors'))
    const fmeta = await readSafetensorsMetadata(join(out, 'features.safetensors'))
    const ids = JSON.parse(fmeta.ids) as string[]
    expect(ids).to.have.length(24)
    expect(new Set(JSON.parse(fmeta.splits))).to.deep.equal(new Set(['train', 'val', 'test']))
    // visual.anatomyVector occupancy+shape: per channel [occupancy, compactness, elongation]
    expect(fmeta.anatomyVector).to.equal('occupancy+shape')
    expect(feats.get('anatomy')!.shape).to.deep.equal([24, 24])
    expect(feats.get('style')!.shape).to.deep.equal([24, 8])
    const anatomy = feats.get('anatomy')!.data as Float32Array
    for (let i = 0; i < 24; i++) {
      const row = anatomy.subarray(i * 24, i * 24 + 24)
      expect(row.filter((_, k) => k % 3 === 0).reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-5) // occupancy of a one-hot map
      for (const v of row) expect(v).to.be.within(0, 1)
    }
    const split = JSON.parse(await fs.readFile(join(runDir, 'split.json'), 'utf8'))
    expect(Object.keys(split.assignments).sort()).to.deep.equal([...ids].sort())

    const grid = await sharp(join(out, 'grid.png')).metadata()
    expect([grid.width, grid.height]).to.deep.equal([5 * 32 * 2, 4 * 32 * 2])
    for (const f of ['loss-curves.png', 'dice-curve.png'])
      expect((await sharp(join(out, f)).metadata()).format).to.equal('png')
    const metrics = JSON.parse(await fs.readFile(join(out, 'metrics.json'), 'utf8'))
    expect(metrics.valDice).to.be.within(0, 1)
    expect(metrics.valReconL1).to.be.above(0)
    expect(metrics.styleSwap.pairs).to.be.above(1)
    for (const k of ['maskIoUWithA', 'maskIoUSelfReconstruction', 'maskIoUSwapVsSelf'])
      expect(metrics.styleSwap[k], k).to.be.within(0, 1)
    expect(metrics.definitions.valDice).to.match(/Dice/)
    const manifest = JSON.parse(await fs.readFile(join(out, 'manifest.json'), 'utf8'))
    expect(manifest.status).to.equal('complete')
    expect(Object.keys(manifest.outputs)).to.include('visual/model.safetensors')

    // the segmenter works on any folder of images, masks at each image's own size
    const seg = await loadSegmenter(runLayout(runDir).visual.model)
    const images = join(dataDir, (await fs.readdir(dataDir)).find(n => n.toLowerCase().includes('images')) ?? '')
    const results = await seg.segmentFolder(images)
    expect(results.length).to.be.above(0)
    for (const r of results) expect(r.mask.length).to.equal(r.width * r.height)
    const odd = await seg.segmentRgb(new Uint8Array(20 * 12 * 3).fill(200), 20, 12)
    expect(odd.length).to.equal(240)
    seg.dispose()
  })

  it('continues its checkpoints when epochs grow; refuses them in one line when the model changes, starts over with --force', async () => {
    await runTrainVisual(configFor(runDir, {'visual.epochs': 2}))
    const metrics = JSON.parse(await fs.readFile(join(runDir, 'visual', 'metrics.json'), 'utf8'))
    expect(metrics.epochHistory.map((e: {epoch: number}) => e.epoch)).to.deep.equal([1, 2])
    // a fresh run would only have written its final checkpoint (checkpointEvery 200): the first one is the first run's
    const steps = metrics.steps as number
    expect((await fs.readdir(join(runDir, 'visual', 'checkpoints'))).sort()).to.deep.equal(
      [`checkpoint-${steps / 2}`, `checkpoint-${steps}`].sort()
    )
    // one rule for every trainer (src/train/same-training.ts): the checkpoint and the setting are named
    const changed = configFor(runDir, {'visual.epochs': 2, 'visual.adain': 'scalar'})
    let err: unknown = null
    try {
      await runTrainVisual(changed)
    } catch (e) {
      err = e
    }
    expect(err).to.be.instanceOf(UserError)
    expect((err as Error).message).to.match(
      new RegExp(
        `checkpoint-${steps}: checkpoint of a different training: model\\.adain is "learned" there, "scalar" now; start over with --force`
      )
    )
    await runTrainVisual(changed, {force: true})
    const meta = await readSafetensorsMetadata(join(runDir, 'visual', 'model.safetensors'))
    expect(JSON.parse(meta.config).adain).to.equal('scalar')
  })

  it('a missing perceptual-loss VGG file is named with the key that points at it', async () => {
    let err: unknown = null
    try {
      await runTrainVisual(configFor(tmpDir(), {'visual.perceptual.weights': '/x/vgg19.safetensors'}), {resume: false})
    } catch (e) {
      err = e
    }
    expect(err).to.be.instanceOf(UserError)
    expect((err as Error).message).to.match(/^\/x\/vgg19\.safetensors: missing; .*visual\.perceptual\.weights/)
  })

  it('segmenter: a missing model names the command to run', async () => {
    let err: unknown = null
    try {
      await loadSegmenter(runLayout(tmpDir()).visual.model)
    } catch (e) {
      err = e
    }
    expect((err as Error).message).to.match(/model\.safetensors: missing; run `medgen train-visual` first/)
  })
})
