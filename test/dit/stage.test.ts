// The finetune-dit stage end to end on a tiny run folder made here (PNG images, captions.jsonl,
// text/features.safetensors): from scratch in pixel space, and LoRA on a frozen "pretrained"
// PixArt + VAE (the golden pixart-tiny and vae-tiny folders, read by the same loaders as real
// diffusers folders). Checks the artifacts, the peft names, and that loadTrainedDit (LoRA merged)
// predicts what the unmerged model predicts.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import {join} from 'node:path'
import {promises as fs} from 'node:fs'
import {useTestBackend} from '../helpers/backend.js'
import {goldenDir, tmpDir} from '../helpers/tmp.js'
import {loadConfig} from '../../src/config/load.js'
import {runStage} from '../../src/stages/stage.js'
import {finetuneDitStageFor} from '../../src/stages/finetune-dit.js'
import {loadTrainedDit} from '../../src/stages/dit/load.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import {writeSafetensors} from '../../src/io/safetensors.js'
import {loadPixArt} from '../../src/models/pixart/load.js'
import {loadLora} from '../../src/models/lora.js'
import {pixartForward} from '../../src/models/pixart/transformer.js'
import {Rng} from '../../src/util/rng.js'

/** text/features.safetensors has anatomy [n, anatomyDim] (8, or 24 with visual.anatomyVector occupancy+shape) and style [n, 8]. */
async function makeRun(n = 8, size = 40, anatomyDim = 8): Promise<{runDir: string; dataDir: string}> {
  const runDir = tmpDir()
  const dataDir = tmpDir()
  const rng = new Rng(3)
  const lines: string[] = []
  const ids: string[] = []
  const anatomy = new Float32Array(n * anatomyDim)
  const style = new Float32Array(n * 8)
  for (let i = 0; i < n; i++) {
    const cls = i % 2 ? 'mel' : 'nv'
    const rgb = Buffer.alloc(size * size * 3)
    for (let p = 0; p < size * size; p++) {
      const y = Math.floor(p / size) - size / 2
      const x = (p % size) - size / 2
      const inside = x * x + y * y < (size / 4 + (i % 3)) ** 2
      rgb[p * 3] = inside ? (cls === 'mel' ? 60 : 150) : 220
      rgb[p * 3 + 1] = inside ? 40 : 170
      rgb[p * 3 + 2] = inside ? 30 : 150
    }
    await fs.mkdir(join(dataDir, cls), {recursive: true})
    await sharp(rgb, {raw: {width: size, height: size, channels: 3}})
      .png()
      .toFile(join(dataDir, cls, `img${i}.png`))
    lines.push(
      JSON.stringify({
        id: `img${i}`,
        file: `${cls}/img${i}.png`,
        class: cls,
        split: i < n - 2 ? 'train' : 'test',
        caption: `a ${cls} lesion`,
        attributes: null
      })
    )
    ids.push(`img${i}`)
    for (let k = 0; k < anatomyDim; k++) anatomy[i * anatomyDim + k] = rng.uniform()
    for (let k = 0; k < 8; k++) style[i * 8 + k] = rng.normal()
  }
  await fs.mkdir(join(runDir, 'captions'), {recursive: true})
  await fs.writeFile(join(runDir, 'captions', 'captions.jsonl'), lines.join('\n') + '\n')
  await writeSafetensors(
    join(runDir, 'text', 'features.safetensors'),
    {
      anatomy: {dtype: 'F32', shape: [n, anatomyDim], data: anatomy},
      style: {dtype: 'F32', shape: [n, 8], data: style}
    },
    {ids: JSON.stringify(ids)}
  )
  return {runDir, dataDir}
}

describe('dit: finetune-dit stage', function () {
  before(async () => {
    await useTestBackend()
  })
  process.env.MEDGEN_QUIET = '1'

  it('trains pixart-demo from scratch in pixel space on 24-d anatomy / 8-d style features and loadTrainedDit serves it', async () => {
    const {runDir, dataDir} = await makeRun(8, 40, 24)
    const config = loadConfig({
      overrides: {
        'run.dir': runDir,
        'data.path': dataDir,
        'dit.steps': 4,
        'dit.batchSize': 2,
        'dit.checkpointingSteps': 2,
        'dit.keepCheckpoints': 1,
        'dit.warmupSteps': 1
      }
    })
    await runStage(finetuneDitStageFor(), config, {force: true})
    const dit = join(runDir, 'dit')
    for (const f of [
      'dit.json',
      'hffm.safetensors',
      'metrics.json',
      'loss.png',
      'manifest.json',
      'transformer/config.json',
      'transformer/diffusion_pytorch_model.safetensors'
    ]) {
      await fs.access(join(dit, f))
    }
    expect(await fs.readdir(join(dit, 'checkpoints'))).to.deep.equal(['checkpoint-4'])
    const metrics = JSON.parse(await fs.readFile(join(dit, 'metrics.json'), 'utf8'))
    expect(metrics.steps).to.equal(4)
    expect(metrics.trainedFromScratch).to.equal(true)
    const hffm = await readSafetensors(join(dit, 'hffm.safetensors'))
    expect(hffm.get('anatomy_proj.0.weight')!.shape).to.deep.equal([256, 24])
    expect(hffm.get('norm_a.weight')!.shape).to.deep.equal([24])
    expect(hffm.get('modality_proj.0.weight')!.shape).to.deep.equal([256, 8])
    expect(hffm.get('type_embeddings')!.shape).to.deep.equal([2, 64])
    const model = await loadTrainedDit(runDir, config)
    expect(model.sampleShape).to.deep.equal([32, 32, 3])
    // pixel centring recorded and undone by decode: model value 0 decodes to the data mean colour
    const norm = model.meta.pixelNormalization!
    expect(norm.mean[0]).to.be.greaterThan(0.3) // skin-coloured background, red channel
    const zero = model.decode(tf.zeros([1, 32, 32, 3]))
    expect(zero.dataSync()[0]).to.be.closeTo((norm.mean[0] + 1) / 2, 1e-5)
    zero.dispose()
    expect(model.meta.conditioner).to.include({anatomyDim: 24, styleDim: 8})
    // features of the wrong width (e.g. an align-text run with the other anatomyVector) are named
    expect(() => model.conditionFromFeatures(new Float32Array(16), new Float32Array(16), 2)).to.throw(
      /24-d anatomy and 8-d style features but got 8 and 8/
    )
    const cond = model.conditionFromFeatures(new Float32Array(48).fill(0.5), new Float32Array(16), 2)
    const nul = model.nullCondition(2)
    expect(cond.tokens.shape).to.deep.equal([2, 2, 64])
    expect(nul.tokens.shape).to.deep.equal([2, 2, 64])
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D
    const eps = model.predict(x, [500, 10], cond)
    expect(eps.shape).to.deep.equal([2, 32, 32, 6])
    // from scratch in pixel space: v-prediction (dit.prediction auto), served as epsilon =
    // sqrt(1-acp) x_t + sqrt(acp) v, which at t = 999 (sqrt(acp) = 0.0064) is x_t up to a bounded v
    expect(model.meta.predictionType).to.equal('v')
    const atNoise = model.predict(x, 999, cond)
    const gap = tf.tidy(() => atNoise.slice([0, 0, 0, 0], [-1, -1, -1, 3]).sub(x).abs().max().dataSync()[0])
    expect(gap).to.be.lessThan(0.1)
    atNoise.dispose()
    // data range in model units recorded for the samplers' x0 clip: centred, scaled to std 0.5 per channel
    expect(model.clipRange).to.be.greaterThan(0.5).and.lessThan(20)
    expect(norm.scale[0]).to.be.lessThan(1)
    const img = model.decode(x)
    expect(img.min().dataSync()[0]).to.be.at.least(0)
    expect(img.max().dataSync()[0]).to.be.at.most(1)
    tf.dispose([cond.tokens, cond.mask, nul.tokens, nul.mask, x, eps, img])
    model.dispose()
  })

  it('dit.vae.train: trains a VAE into dit/vae, the DiT on its latents, serves 32 px images, reuses the VAE on resume', async () => {
    const {runDir, dataDir} = await makeRun(6, 40)
    const overrides = {
      'run.dir': runDir,
      'data.path': dataDir,
      'dit.preset': 'pixart-demo-latent',
      'dit.vae.train': true,
      'dit.vae.steps': 3,
      'dit.vae.channels': [8, 16],
      'dit.vae.groups': 4,
      'dit.steps': 2,
      'dit.batchSize': 2,
      'dit.checkpointingSteps': 2,
      'dit.warmupSteps': 1
    }
    const config = loadConfig({overrides})
    await runStage(finetuneDitStageFor(), config, {force: true})
    const dit = join(runDir, 'dit')
    const vaeConfig = JSON.parse(await fs.readFile(join(dit, 'vae', 'config.json'), 'utf8'))
    expect(vaeConfig).to.include({_class_name: 'AutoencoderKL', latent_channels: 4})
    expect(vaeConfig.block_out_channels).to.deep.equal([8, 16])
    const metrics = JSON.parse(await fs.readFile(join(dit, 'metrics.json'), 'utf8'))
    expect(metrics.space).to.equal('latent')
    expect(metrics.vae).to.include({steps: 3, reused: false})
    expect(metrics.vae.scalingFactor).to.equal(vaeConfig.scaling_factor)
    const model = await loadTrainedDit(runDir, config)
    expect(model.meta).to.include({vae: 'vae', vaeTrained: true, predictionType: 'v'})
    expect(model.sampleShape).to.deep.equal([16, 16, 4])
    expect(model.latentScale).to.equal(vaeConfig.scaling_factor)
    const z = tf.randomNormal([1, 16, 16, 4], 0, 1, 'float32', 3) as tf.Tensor4D
    const img = model.decode(z)
    expect(img.shape).to.deep.equal([1, 32, 32, 3])
    tf.dispose([z, img])
    model.dispose()
    // a resumed run (no --force, more steps) keeps the VAE its checkpoints were trained on
    const before = await fs.readFile(join(dit, 'vae', 'diffusion_pytorch_model.safetensors'))
    await runStage(finetuneDitStageFor(), loadConfig({overrides: {...overrides, 'dit.steps': 3}}), {resume: true})
    expect(JSON.parse(await fs.readFile(join(dit, 'metrics.json'), 'utf8')).vae.reused).to.equal(true)
    expect((await fs.readFile(join(dit, 'vae', 'diffusion_pytorch_model.safetensors'))).equals(before)).to.equal(true)
    // a VAE cannot be both given and trained
    const both = loadConfig({overrides: {...overrides, 'weights.vae': join(goldenDir, 'vae-tiny')}})
    let message = ''
    try {
      await runStage(finetuneDitStageFor(), both, {force: true})
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).to.match(/dit\.vae\.train is true but weights\.vae is set/)
  })

  it('LoRA on a frozen PixArt + VAE: peft-named adapters, latent cache, merged model == unmerged', async () => {
    const {runDir, dataDir} = await makeRun(6, 24)
    const pixart = join(goldenDir, 'pixart-tiny')
    const vae = join(goldenDir, 'vae-tiny')
    const config = loadConfig({
      overrides: {
        'run.dir': runDir,
        'data.path': dataDir,
        'weights.pixart': pixart,
        'weights.vae': vae,
        'dit.steps': 3,
        'dit.batchSize': 2,
        'dit.checkpointingSteps': 3,
        'dit.warmupSteps': 1,
        'dit.lora.rank': 2,
        'dit.lr': 1e-2
      }
    })
    await runStage(finetuneDitStageFor(), config, {force: true})
    const dit = join(runDir, 'dit')
    const lora = await readSafetensors(join(dit, 'lora.safetensors'))
    expect(lora.get('transformer.transformer_blocks.0.attn1.to_q.lora_A.weight')!.shape).to.deep.equal([2, 16])
    expect(lora.get('transformer.transformer_blocks.0.attn1.to_q.lora_B.weight')!.shape).to.deep.equal([16, 2])
    expect(lora.get('transformer.pos_embed.proj.lora_A.weight')!.shape).to.deep.equal([2, 4, 2, 2])
    expect(lora.get('transformer.pos_embed.proj.lora_B.weight')!.shape).to.deep.equal([16, 2, 1, 1])
    expect(lora.has('transformer.caption_projection.linear_1.lora_A.weight')).to.equal(true)
    const adapter = JSON.parse(await fs.readFile(join(dit, 'adapter_config.json'), 'utf8'))
    // alpha follows the rank unless dit.lora.alpha is set (diffusers' scripts: alpha = rank)
    expect(adapter).to.include({peft_type: 'LORA', r: 2, lora_alpha: 2, init_lora_weights: 'gaussian'})
    expect((await fs.readdir(join(runDir, 'cache', 'latents'))).length).to.equal(1)
    // B moved away from zero, so the adapter changes the output
    const bAbs = Math.max(
      ...Array.from(
        lora.get('transformer.transformer_blocks.0.attn1.to_q.lora_B.weight')!.data as Float32Array,
        Math.abs
      )
    )
    expect(bAbs).to.be.greaterThan(0)

    const model = await loadTrainedDit(runDir, config)
    expect(model.sampleShape).to.deep.equal([8, 8, 4])
    expect(model.latentScale).to.equal(0.18215)
    // a pretrained PixArt keeps epsilon prediction and the samplers' default clipping
    expect(model.meta.predictionType).to.equal('epsilon')
    expect(model.clipRange).to.equal(null)
    const base = await loadPixArt(pixart)
    const adapters = await loadLora(join(dit, 'lora.safetensors'))
    const cond = model.conditionFromFeatures(new Float32Array(16).fill(0.3), new Float32Array(16).fill(-0.2), 2)
    const x = tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 2) as tf.Tensor4D
    const merged = model.predict(x, [700, 30], cond)
    const unmerged = pixartForward({params: base.params, lora: adapters}, base.config, {
      x,
      timesteps: [700, 30],
      context: cond.tokens,
      mask: cond.mask
    }).sample
    const diff = tf.max(tf.abs(merged.sub(unmerged))).dataSync()[0]
    console.log(`      merged vs unmerged LoRA max abs diff: ${diff}`)
    expect(diff).to.be.lessThan(1e-4)
    const img = model.decode(x)
    expect(img.shape).to.deep.equal([2, 16, 16, 3])
    tf.dispose([cond.tokens, cond.mask, x, merged, unmerged, img])
    model.dispose()

    // dit.json of a run made before anatomyDim/styleDim (one featureDim for both) still loads and predicts the same
    const metaPath = join(dit, 'dit.json')
    const meta = JSON.parse(await fs.readFile(metaPath, 'utf8'))
    const {anatomyDim, styleDim, ...legacy} = meta.conditioner
    expect([anatomyDim, styleDim]).to.deep.equal([8, 8])
    await fs.writeFile(metaPath, JSON.stringify({...meta, conditioner: {...legacy, featureDim: 8}}))
    const old = await loadTrainedDit(runDir, config)
    expect(old.meta.conditioner).to.include({anatomyDim: 8, styleDim: 8})
    const cond2 = old.conditionFromFeatures(new Float32Array(16).fill(0.3), new Float32Array(16).fill(-0.2), 2)
    const x2 = tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 2) as tf.Tensor4D
    const again = old.predict(x2, [700, 30], cond2)
    const before = pixartForward({params: base.params, lora: adapters}, base.config, {
      x: x2,
      timesteps: [700, 30],
      context: cond2.tokens,
      mask: cond2.mask
    }).sample
    expect(tf.max(tf.abs(again.sub(before))).dataSync()[0]).to.be.lessThan(1e-4)
    tf.dispose([cond2.tokens, cond2.mask, x2, again, before])
    old.dispose()
  })
})
