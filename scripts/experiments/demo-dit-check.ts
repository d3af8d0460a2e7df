// End-to-end check of the demo DiT through the real code paths (issue: saturated demo samples):
// synthetic dermoscopy -> centrePixels -> DitTrainer (dit.prediction, as finetune-dit resolves it)
// -> saveDitArtifacts -> loadTrainedDit (v -> eps, clipRange) -> sampleLatents with the x0 clip ->
// decode; writes one grid PNG per guidance value: a row per class, PER_CLASS samples then 2 real.
// Not a test (minutes of CPU).
//   STEPS=300 PRED=v GUIDANCE=3,4.5 OUT=/tmp/fx/grid.png node --import tsx scripts/experiments/demo-dit-check.ts
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import {initBackend} from '../../src/backend/index.js'
import {Rng} from '../../src/util/rng.js'
import {pixartPreset} from '../../src/models/pixart/config.js'
import {buildDitModel, type DitModelSpec} from '../../src/stages/dit/model.js'
import {DitTrainer, lossSummary} from '../../src/stages/dit/trainer.js'
import {centrePixels, type DitTrainingSet} from '../../src/stages/dit/batch.js'
import {syntheticDitExamples} from './lib/synthetic-dit-set.js'
import {saveDitArtifacts} from '../../src/stages/dit/artifacts.js'
import {loadTrainedDit} from '../../src/stages/dit/load.js'
import {createScheduler} from '../../src/diffusion/index.js'
import {defaultSchedulerOptions} from '../../src/diffusion/scheduler.js'
import {sampleLatents} from '../../src/diffusion/sample.js'
import type {MedgenConfig} from '../../src/config/schema.js'

const env = process.env
const steps = Number(env.STEPS ?? 300)
const n = Number(env.N ?? 1000)
const pred = (env.PRED ?? 'v') as 'v' | 'epsilon'
const guidances = (env.GUIDANCE ?? '3,4.5').split(',').map(Number)
const perClass = Number(env.PER_CLASS ?? 6)
const runDir = env.RUN ?? '/tmp/fx/run'
const out = env.OUT ?? '/tmp/fx/grid.png'
env.MEDGEN_QUIET = '1'
await initBackend('wasm')
const cfg = pixartPreset('pixart-demo')
const P = cfg.sample_size
const S = Math.round((P * 9) / 8)
const {samples, examples, classes} = await syntheticDitExamples(n, S)
const rawSamples = samples.map(x => x.slice())
const norm = centrePixels(samples, 3)
console.error('normalisation', JSON.stringify(norm))
const data: DitTrainingSet = {
  space: 'pixel',
  samples,
  storedShape: [S, S, 3],
  modelShape: [P, P, 3],
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
  lr: 2e-3,
  weightDecay: 0.01,
  warmupSteps: 50,
  gradClip: 1,
  condDropout: 0.1,
  colour: {mode: (env.COLOUR ?? 'train') as 'train' | 'off', weight: 0.05, every: 4},
  seed: 42,
  prediction: pred,
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
await saveDitArtifacts(runDir, model, {
  format: 'medgen-dit/1',
  space: 'pixel',
  preset: 'pixart-demo',
  transformer: cfg,
  conditioner: spec.conditioner,
  latentScale: 1,
  baseWeights: '',
  vae: '',
  trainedFromScratch: true,
  lora: null,
  classNames: classes,
  textEncoder: null,
  textLength: 0,
  pixelNormalization: {mean: norm.mean, scale: norm.scale},
  predictionType: pred,
  clipRange: norm.clipRange ?? null
})
const dit = await loadTrainedDit(runDir, {weights: {}} as unknown as MedgenConfig)
const result: Record<string, unknown> = {
  msPerStep,
  loss: lossSummary(trainer.history),
  clipRange: dit.clipRange,
  predictionType: dit.meta.predictionType
}
for (const g of guidances) {
  const tiles: sharp.OverlayOptions[] = []
  const t1 = performance.now()
  const distinct = new Set<number>()
  for (const [ci] of classes.entries()) {
    const rows = examples.map((_, i) => i).filter(i => examples[i].classIndex === ci)
    const pick = Array.from({length: perClass}, (_, k) => rows[k % rows.length])
    const cond = dit.conditionFromFeatures(
      Float32Array.from(pick.flatMap(i => Array.from(examples[i].anatomy))),
      Float32Array.from(pick.flatMap(i => Array.from(examples[i].style))),
      pick.length
    )
    const scheduler = createScheduler(
      'dpm-solver++',
      dit.clipRange ? {...defaultSchedulerOptions, x0ClipRange: dit.clipRange} : undefined
    )
    const x = await sampleLatents({
      denoiser: dit,
      scheduler,
      steps: 20,
      guidance: g,
      cond,
      seeds: pick.map((_, k) => 7 + k)
    })
    tf.dispose([cond.tokens, cond.mask])
    const img = tf.tidy(() => dit.decode(tf.tensor4d(x, [pick.length, P, P, 3])))
    const bytes = Uint8Array.from(await img.data(), v => Math.round(v * 255))
    img.dispose()
    bytes.forEach(v => distinct.add(v))
    const per = P * P * 3
    pick.forEach((_, k) =>
      tiles.push({
        input: Buffer.from(bytes.subarray(k * per, (k + 1) * per)),
        raw: {width: P, height: P, channels: 3},
        left: k * (P + 2),
        top: ci * (P + 2)
      })
    )
    rows.slice(0, 2).forEach((item, k) => {
      const m = Math.floor((S - P) / 2)
      const crop = new Uint8Array(per)
      for (let y = 0; y < P; y++)
        for (let xx = 0; xx < P; xx++)
          for (let c = 0; c < 3; c++)
            crop[(y * P + xx) * 3 + c] = Math.round((rawSamples[item][((y + m) * S + xx + m) * 3 + c] + 1) * 127.5)
      tiles.push({
        input: Buffer.from(crop),
        raw: {width: P, height: P, channels: 3},
        left: (perClass + k) * (P + 2) + 4,
        top: ci * (P + 2)
      })
    })
  }
  const W = (perClass + 2) * (P + 2) + 4
  const H = classes.length * (P + 2)
  const file = out.replace(/\.png$/, `-${pred}-g${g}.png`)
  const grid = await sharp({create: {width: W, height: H, channels: 3, background: 'white'}})
    .composite(tiles)
    .png()
    .toBuffer()
  await sharp(grid)
    .resize(W * 3, H * 3, {kernel: 'nearest'})
    .png()
    .toFile(file)
  result[`g${g}`] = {
    file,
    secondsPerImage: +((performance.now() - t1) / 1000 / (classes.length * perClass)).toFixed(3),
    distinctByteValues: distinct.size
  }
}
dit.dispose()
console.log(JSON.stringify({classes, ...result}, null, 1))
