// Sizing experiment for the pixart-demo preset (issue 7): trains it from scratch on synthetic
// dermoscopy (src/data/synth) in pixel space and samples a few images per class, to check that
// the demo's finetune-dit budget gives lesion-like images. Not a test (minutes of CPU).
//   node --import tsx scripts/experiments/demo-dit-experiment.ts [steps=400] [n=400] [outDir=/tmp/dit-demo] [lr=1e-3]
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {initBackend} from '../../src/backend/index.js'
import {Rng} from '../../src/util/rng.js'
import {drawSample} from '../../src/data/synth/sample.js'
import {pixartPreset} from '../../src/models/pixart/config.js'
import {buildDitModel, type DitModelSpec} from '../../src/stages/dit/model.js'
import {DitTrainer, lossSummary} from '../../src/stages/dit/trainer.js'
import {centrePixels, type DitTrainingSet} from '../../src/stages/dit/batch.js'
import {conditionTokens, nullCondition} from '../../src/models/hffm.js'
import {pixartForward} from '../../src/models/pixart/transformer.js'
import {createScheduler} from '../../src/diffusion/index.js'
import {sampleLatents} from '../../src/diffusion/sample.js'

const steps = Number(process.argv[2] ?? 400)
const n = Number(process.argv[3] ?? 400)
const outDir = process.argv[4] ?? '/tmp/dit-demo'
const lr = Number(process.argv[5] ?? 1e-3)
process.env.MEDGEN_QUIET = '1'
const backend = await initBackend((process.env.MEDGEN_BACKEND as any) ?? 'wasm')
const cfg = pixartPreset('pixart-demo')
const S = 36
const samples: Float32Array[] = []
const examples: DitTrainingSet['examples'] = []
const classes: string[] = []
for (let i = 0; i < n; i++) {
  const s = drawSample('dermoscopy', 1000 + i, S)
  if (!classes.includes(s.className)) classes.push(s.className)
  samples.push(Float32Array.from(s.rgb, v => v / 127.5 - 1))
  // stand-in features: class one-hot as "style", mask occupancy + size as "anatomy"
  const style = new Float32Array(8)
  style[classes.indexOf(s.className)] = 1
  const area = s.mask.reduce((a, b) => a + b, 0) / s.mask.length
  const anatomy = new Float32Array(8)
  anatomy[0] = area
  anatomy[1] = 1 - area
  examples.push({id: String(i), classIndex: classes.indexOf(s.className), anatomy, style})
}
const rawSamples = samples.map(x => x.slice())
const norm = process.env.NO_CENTRE ? {mean: [0, 0, 0], scale: [1, 1, 1]} : centrePixels(samples, 3)
const data: DitTrainingSet = {
  space: 'pixel',
  samples,
  storedShape: [S, S, 3],
  modelShape: [32, 32, 3],
  latentScale: 1,
  examples,
  anatomyDim: 8,
  styleDim: 8,
  textDim: 0,
  textLength: 0,
  classNames: classes
}
const spec: DitModelSpec = {
  transformer: cfg,
  space: 'pixel',
  latentScale: 1,
  conditioner: {
    mode: 'hffm',
    captionChannels: cfg.caption_channels,
    anatomyDim: 8,
    styleDim: 8,
    hidden: 256,
    textDim: 0,
    numClasses: classes.length
  },
  lora: {rank: 8, alpha: 8, targets: []}
}
const model = buildDitModel(spec, null, new Rng(42))
const trainer = new DitTrainer(model, data, {
  steps,
  batchSize: 8,
  lr,
  weightDecay: 0.01,
  warmupSteps: Math.round(steps / 20),
  gradClip: 1,
  condDropout: 0.1,
  colour: {mode: 'train', weight: 0.05, every: 1},
  seed: 42,
  decode: x => x.mul(norm.scale).add(norm.mean) as tf.Tensor4D
})
const t0 = performance.now()
for (let i = 0; i < steps; i++) {
  trainer.step(i)
  if ((i + 1) % 50 === 0)
    console.error(
      `step ${i + 1} loss ${lossSummary(trainer.history.slice(-50)).lastTenthMean.toFixed(4)} ${((performance.now() - t0) / (i + 1)).toFixed(0)} ms/step`
    )
}
const msPerStep = (performance.now() - t0) / steps
await fs.mkdir(outDir, {recursive: true})
const perClass = 6
for (const [ci, cls] of classes.entries()) {
  const rows = examples
    .map((e, i) => i)
    .filter(i => examples[i].classIndex === ci)
    .slice(0, perClass)
  if (rows.length === 0) continue
  const cond = tf.tidy(() => {
    const c = conditionTokens({params: model.cond}, spec.conditioner, {
      anatomy: tf.tensor2d(
        rows.flatMap(i => Array.from(examples[i].anatomy)),
        [rows.length, 8]
      ),
      style: tf.tensor2d(
        rows.flatMap(i => Array.from(examples[i].style)),
        [rows.length, 8]
      )
    })
    return {tokens: c.tokens, mask: c.mask}
  })
  const denoiser = {
    sampleShape: [32, 32, 3] as [number, number, number],
    predict: (x: tf.Tensor4D, t: number | number[], c: {tokens: tf.Tensor3D; mask: tf.Tensor2D}) =>
      pixartForward({params: model.base}, cfg, {x, timesteps: t, context: c.tokens, mask: c.mask}).sample,
    nullCondition: (k: number) =>
      tf.tidy(() => {
        const c = nullCondition({params: model.cond}, k, 2)
        return {tokens: c.tokens, mask: c.mask}
      })
  }
  const x = await sampleLatents({
    denoiser,
    scheduler: createScheduler('ddim'),
    steps: 25,
    guidance: 3,
    cond,
    seeds: rows.map((_, k) => 7 + k)
  })
  const img = Buffer.from(
    Uint8Array.from(x, (v, j) =>
      Math.max(0, Math.min(255, Math.round((v * norm.scale[j % 3] + norm.mean[j % 3] + 1) * 127.5)))
    )
  )
  const row = await sharp({create: {width: 32 * rows.length * 2, height: 32, channels: 3, background: 'white'}})
    .composite(
      rows.flatMap((item, k) => [
        {
          input: img.subarray(k * 3072, (k + 1) * 3072),
          raw: {width: 32, height: 32, channels: 3 as const},
          left: 64 * k,
          top: 0
        },
        {
          input: Buffer.from(
            Uint8Array.from(
              rawSamples[item].filter((_, j) => {
                const p = Math.floor(j / 3)
                return p % S >= 2 && p % S < 34 && Math.floor(p / S) >= 2 && Math.floor(p / S) < 34
              }),
              v => Math.round((v + 1) * 127.5)
            )
          ),
          raw: {width: 32, height: 32, channels: 3 as const},
          left: 64 * k + 32,
          top: 0
        }
      ])
    )
    .png()
    .toBuffer()
  await sharp(row)
    .resize(32 * rows.length * 2 * 3, 96, {kernel: 'nearest'})
    .png()
    .toFile(join(outDir, `gen-${cls}.png`))
  tf.dispose([cond.tokens, cond.mask])
}
const {exportParams, kindOf} = await import('../../src/models/params.js')
const {writeSafetensors} = await import('../../src/io/safetensors.js')
await writeSafetensors(
  join(outDir, 'transformer.safetensors'),
  await exportParams(model.base, (k, t) => kindOf(t.shape, k))
)
await writeSafetensors(join(outDir, 'hffm.safetensors'), await exportParams(model.cond, (k, t) => kindOf(t.shape, k)))
console.log(
  JSON.stringify({backend, steps, n, lr, msPerStep, norm, classes, loss: lossSummary(trainer.history), out: outDir})
)
