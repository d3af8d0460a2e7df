// Sizing sweep for the demo DiT (issue: demo samples show only skin + patch noise). Trains the
// pixart-demo preset, optionally overridden, from scratch on synthetic dermoscopy drawn at 64 px
// and resized like finetune-dit does (lanczos to sample_size*9/8, centred per channel), for a
// wall-clock budget, then samples with the demo sampler and writes ONE grid PNG: a row per
// class, `perClass` generated images then 2 real ones. Not a test (minutes of CPU).
//   PRESET='{"sample_size":16,"patch_size":2}' SECONDS=180 LR=2e-3 BATCH=8 COLOUR_EVERY=4 \
//   SAMPLER=dpm-solver++ SAMPLE_STEPS=20 GUIDANCE=4.5 N=1000 OUT=/tmp/sweep/a.png \
//   node --import tsx scripts/experiments/demo-dit-sweep.ts
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import {promises as fs} from 'node:fs'
import {dirname} from 'node:path'
import {initBackend} from '../../src/backend/index.js'
import {Rng} from '../../src/util/rng.js'
import {pixartPreset, type PixArtConfig} from '../../src/models/pixart/config.js'
import {buildDitModel, type DitModelSpec} from '../../src/stages/dit/model.js'
import {DitTrainer, lossSummary} from '../../src/stages/dit/trainer.js'
import {centrePixels, type DitTrainingSet} from '../../src/stages/dit/batch.js'
import {syntheticDitExamples} from './lib/synthetic-dit-set.js'
import {conditionTokens, dropCondition, nullCondition} from '../../src/models/hffm.js'
import {assembleBatch} from '../../src/stages/dit/batch.js'
import {conditionInputsFor, conditionOf, predictNoise} from '../../src/stages/dit/model.js'
import {clipCoefficient} from '../../src/train/clip.js'
import {pixartForward, countPixArtParams} from '../../src/models/pixart/transformer.js'
import {createScheduler} from '../../src/diffusion/index.js'
import {sampleLatents} from '../../src/diffusion/sample.js'

const env = process.env
const seconds = Number(env.SECONDS ?? 180)
const maxSteps = Number(env.STEPS ?? 100000)
const n = Number(env.N ?? 1000)
const lr = Number(env.LR ?? 2e-3)
const batch = Number(env.BATCH ?? 8)
const colourEvery = Number(env.COLOUR_EVERY ?? 4)
const sampler = (env.SAMPLER ?? 'dpm-solver++') as 'dpm-solver++' | 'ddim' | 'ddpm'
const sampleSteps = Number(env.SAMPLE_STEPS ?? 20)
const guidance = Number(env.GUIDANCE ?? 4.5)
const perClass = Number(env.PER_CLASS ?? 6)
const out = env.OUT ?? '/tmp/dit-sweep/grid.png'
// steps used for the cosine schedule: a guess of how many fit the time budget
const plannedSteps = Number(env.PLANNED ?? maxSteps)
env.MEDGEN_QUIET = '1'
const backend = await initBackend((env.MEDGEN_BACKEND as any) ?? 'wasm')
const cfg: PixArtConfig = {...pixartPreset('pixart-demo'), ...JSON.parse(env.PRESET ?? '{}')}
const P = cfg.sample_size
const S = Math.round((P * 9) / 8)

const {samples, examples, classes} = await syntheticDitExamples(
  n,
  S,
  (env.PLACEMENT ?? 'anywhere') as 'anywhere' | 'centred'
)
const rawSamples = samples.map(x => x.slice())
const norm = centrePixels(samples, 3)
// GAIN > 1: after centring, multiply the pixels by GAIN (decode divides it back out), to test
// whether the low contrast of centred pixels (std ~0.18) starves the noise schedule of signal.
const gain = Number(env.GAIN ?? 1)
if (gain !== 1) {
  for (const x of samples) for (let i = 0; i < x.length; i++) x[i] *= gain
  norm.scale = norm.scale.map(v => v / gain)
}
{
  let s2 = 0,
    c = 0
  for (const x of samples)
    for (const v of x) {
      s2 += v * v
      c++
    }
  console.error('model-space pixel std', Math.sqrt(s2 / c).toFixed(3))
}
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
  steps: plannedSteps,
  batchSize: batch,
  lr,
  weightDecay: 0.01,
  warmupSteps: Number(env.WARMUP ?? 50),
  gradClip: 1,
  condDropout: Number(env.DROP ?? 0.1),
  colour: {mode: 'train', weight: 0.05, every: colourEvery},
  seed: 42,
  decode: x => x.mul(norm.scale).add(norm.mean) as tf.Tensor4D
})
// PRED=v: the same model, data, AdamW and schedule, trained on the v target (v = a*eps - s*x0,
// Salimans & Ho 2022) instead of epsilon; sampled by converting v back to eps = s*x_t + a*v.
const pred = env.PRED ?? 'eps'
const byVar = new Map([...trainer.params].map(([k, v]) => [v.name, k]))
const history: number[] = []
function vStep(i: number): void {
  const rng = new Rng(1e6 + i)
  const idx = Array.from({length: batch}, () => rng.int(examples.length))
  const hb = assembleBatch(data, idx, rng)
  const ts = idx.map(() => rng.int(1000))
  const nz = rng.normalArray(batch * P * P * 3)
  const drop = idx.map(() => rng.uniform() < Number(env.DROP ?? 0.1))
  const res = tf.tidy(() => {
    const x0 = tf.tensor4d(hb.x0, [batch, P, P, 3])
    const noise = tf.tensor4d(nz, [batch, P, P, 3])
    const {signal, noise: sg} = trainer.schedule.coefficients(ts)
    const xt = x0.mul(signal).add(noise.mul(sg))
    const target = noise.mul(signal).sub(x0.mul(sg))
    const ci = conditionInputsFor(data, idx)
    const {value, grads} = tf.variableGrads(() => {
      let c = conditionOf(model, ci)
      if (drop.some(Boolean)) c = dropCondition(c, nullCondition({params: model.cond}, batch, c.tokens.shape[1]), drop)
      const o = predictNoise(model, xt as tf.Tensor4D, ts, c).slice([0, 0, 0, 0], [-1, -1, -1, 3])
      return tf.mean(tf.squaredDifference(o, target)) as tf.Scalar
    }, [...trainer.params.values()])
    return {...grads, __loss: value}
  })
  history.push(res.__loss.dataSync()[0])
  res.__loss.dispose()
  const g = new Map<string, tf.Tensor>()
  for (const [k, v] of Object.entries(res)) if (k !== '__loss') g.set(byVar.get(k)!, v)
  trainer.optimizer.applyGradients(g, trainer.lrAt(i), clipCoefficient(g, 1).coef)
  tf.dispose([...g.values()])
  if (i % 50 === 49)
    console.error(`v step ${i + 1} loss ${(history.slice(-50).reduce((a, b) => a + b, 0) / 50).toFixed(4)}`)
}
// EMA=0.995: keep an exponential moving average of the trained weights and sample with it
const emaDecay = Number(env.EMA ?? 0)
const ema = emaDecay ? new Map<string, tf.Tensor>([...trainer.params].map(([k, v]) => [k, tf.keep(v.clone())])) : null
const t0 = performance.now()
let steps = 0
while (steps < maxSteps && (performance.now() - t0) / 1000 < seconds) {
  if (pred === 'v') vStep(steps++)
  else trainer.step(steps++)
  if (ema) {
    const d = Math.min(emaDecay, (1 + steps) / (10 + steps))
    for (const [k, v] of trainer.params) {
      const e = ema.get(k)!
      const next = tf.tidy(() => e.mul(d).add(v.mul(1 - d)))
      e.dispose()
      ema.set(k, tf.keep(next))
    }
  }
  if (steps % 50 === 0)
    console.error(
      `step ${steps} loss ${lossSummary(trainer.history.slice(-50)).lastTenthMean.toFixed(4)} ${((performance.now() - t0) / steps).toFixed(0)} ms/step`
    )
}
const trainSeconds = (performance.now() - t0) / 1000
if (ema) for (const [k, v] of trainer.params) v.assign(ema.get(k)!)
if (env.SKIP_SAMPLE) {
  console.log(
    JSON.stringify({
      preset: cfg,
      batch,
      steps,
      msPerStep: (trainSeconds * 1000) / steps,
      loss: lossSummary(trainer.history)
    })
  )
  process.exit(0)
}

// eps-MSE of the trained model at fixed timesteps on 16 training images (conditioned): where the
// denoiser is weak. x0err = RMS error of the implied clean image at that t.
const probe: Record<number, {eps: number; x0rms: number; x0rmsNull: number}> = {}
{
  const idx = Array.from({length: 16}, (_, k) => (k * 7) % examples.length)
  const per = P * P * 3
  const x0host = new Float32Array(16 * per)
  idx.forEach((it, r) => {
    for (let y = 0; y < P; y++)
      for (let xx = 0; xx < P; xx++)
        for (let c = 0; c < 3; c++) x0host[r * per + (y * P + xx) * 3 + c] = samples[it][((y + 1) * S + xx + 1) * 3 + c]
  })
  const nz = new Rng(5).normalArray(16 * per)
  for (const t of [999, 950, 850, 700, 500, 300, 100, 20]) {
    const [e, x, xu] = tf.tidy(() => {
      const x0 = tf.tensor4d(x0host, [16, P, P, 3])
      const noise = tf.tensor4d(nz, [16, P, P, 3])
      const ts = idx.map(() => t)
      const xt = trainer.schedule.addNoise(x0, noise, ts)
      const c = conditionTokens({params: model.cond}, spec.conditioner, {
        anatomy: tf.tensor2d(
          idx.flatMap(i => Array.from(examples[i].anatomy)),
          [16, 8]
        ),
        style: tf.tensor2d(
          idx.flatMap(i => Array.from(examples[i].style)),
          [16, 8]
        )
      })
      // x0rms with the real condition, and with the null pair: equal numbers mean the DiT ignores its condition
      const x0err = (cc: {tokens: tf.Tensor3D; mask: tf.Tensor2D}): [number, number] => {
        const raw = pixartForward({params: model.base}, cfg, {
          x: xt,
          timesteps: ts,
          context: cc.tokens,
          mask: cc.mask
        }).sample.slice([0, 0, 0, 0], [-1, -1, -1, 3])
        const acpP = trainer.schedule.alphasCumprod[t]
        const eps = pred === 'v' ? (xt.mul(Math.sqrt(1 - acpP)).add(raw.mul(Math.sqrt(acpP))) as tf.Tensor4D) : raw
        const x0hat = trainer.schedule.predictX0(xt, eps, ts)
        return [
          tf.mean(tf.squaredDifference(eps, noise)).dataSync()[0],
          Math.sqrt(tf.mean(tf.squaredDifference(x0hat, x0)).dataSync()[0])
        ]
      }
      const [e, x] = x0err(c)
      return [e, x, x0err(nullCondition({params: model.cond}, 16, 2))[1]]
    })
    probe[t] = {eps: +e.toFixed(5), x0rms: +x.toFixed(3), x0rmsNull: +xu.toFixed(3)}
  }
  console.error('probe', JSON.stringify(probe))
}

let clipX0 = 0
const denoiser = {
  sampleShape: [P, P, 3] as [number, number, number],
  predict: (x: tf.Tensor4D, t: number | number[], c: {tokens: tf.Tensor3D; mask: tf.Tensor2D}) => {
    let o = pixartForward({params: model.base}, cfg, {x, timesteps: t, context: c.tokens, mask: c.mask}).sample
    if (pred === 'v') {
      const acpV = trainer.schedule.alphasCumprod[typeof t === 'number' ? t : t[0]]
      o = tf.concat(
        [
          x.mul(Math.sqrt(1 - acpV)).add(o.slice([0, 0, 0, 0], [-1, -1, -1, 3]).mul(Math.sqrt(acpV))),
          o.slice([0, 0, 0, 3], [-1, -1, -1, -1])
        ],
        3
      ) as tf.Tensor4D
    }
    if (!clipX0) return o
    // x0 clipping as a denoiser wrapper: eps' = (x_t - a*clip(x0_hat)) / s, the clip_sample of DDIM for every sampler
    const acp = trainer.schedule.alphasCumprod[typeof t === 'number' ? t : t[0]]
    const a = Math.sqrt(acp),
      sg = Math.sqrt(1 - acp)
    const eps = o.slice([0, 0, 0, 0], [-1, -1, -1, 3])
    const x0 = tf.clipByValue(x.sub(eps.mul(sg)).div(a), -clipX0, clipX0)
    return tf.concat([x.sub(x0.mul(a)).div(sg), o.slice([0, 0, 0, 3], [-1, -1, -1, -1])], 3) as tf.Tensor4D
  },
  nullCondition: (k: number) =>
    tf.tidy(() => {
      const c = nullCondition({params: model.cond}, k, 2)
      return {tokens: c.tokens, mask: c.mask}
    })
}
const toBytes = (v: number, ch: number): number =>
  Math.max(0, Math.min(255, Math.round((v * norm.scale[ch] + norm.mean[ch] + 1) * 127.5)))
const specs = (env.SAMPLERS ?? `${sampler}:${sampleSteps}:${guidance}`).split(',').map(x => x.split(':'))
const timings: Record<string, number> = {}
for (const [sName, sSteps, sGuid, sClip] of specs) {
  clipX0 = Number(sClip ?? 0)
  const tiles: Array<{input: Buffer; raw: {width: number; height: number; channels: 3}; left: number; top: number}> = []
  const t1 = performance.now()
  let generated = 0
  for (const [ci] of classes.entries()) {
    const rows = examples.map((_, i) => i).filter(i => examples[i].classIndex === ci)
    const pick = Array.from({length: perClass}, (_, k) => rows[k % rows.length])
    const cond = tf.tidy(() => {
      const c = conditionTokens({params: model.cond}, spec.conditioner, {
        anatomy: tf.tensor2d(
          pick.flatMap(i => Array.from(examples[i].anatomy)),
          [pick.length, 8]
        ),
        style: tf.tensor2d(
          pick.flatMap(i => Array.from(examples[i].style)),
          [pick.length, 8]
        )
      })
      return {tokens: c.tokens, mask: c.mask.toFloat() as tf.Tensor2D}
    })
    const x = await sampleLatents({
      denoiser,
      scheduler: createScheduler(sName as typeof sampler),
      steps: Number(sSteps),
      guidance: Number(sGuid),
      cond,
      seeds: pick.map((_, k) => 7 + k)
    })
    generated += pick.length
    tf.dispose([cond.tokens, cond.mask])
    const img = Uint8Array.from(x, (v, j) => toBytes(v, j % 3))
    const per = P * P * 3
    pick.forEach((_, k) =>
      tiles.push({
        input: Buffer.from(img.subarray(k * per, (k + 1) * per)),
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
  const sampleSeconds = (performance.now() - t1) / 1000
  const W = (perClass + 2) * (P + 2) + 4
  const H = classes.length * (P + 2)
  await fs.mkdir(dirname(out), {recursive: true})
  const grid = await sharp({create: {width: W, height: H, channels: 3, background: 'white'}})
    .composite(tiles)
    .png()
    .toBuffer()
  const zoom = Math.max(1, Math.round(96 / P))
  await sharp(grid)
    .resize(W * zoom, H * zoom, {kernel: 'nearest'})
    .png()
    .toFile(out.replace(/\.png$/, `-${sName}-${sSteps}-g${sGuid}-c${clipX0}.png`))
  timings[`${sName}:${sSteps}:${sGuid}`] = +(sampleSeconds / generated).toFixed(3)
}
console.log(
  JSON.stringify({
    backend,
    preset: cfg,
    params: countPixArtParams(cfg),
    steps,
    plannedSteps,
    lr,
    batch,
    colourEvery,
    trainSeconds,
    msPerStep: (trainSeconds * 1000) / steps,
    secondsPerImage: timings,
    classes,
    loss:
      pred === 'v'
        ? {first: history.slice(0, 20), last50: history.slice(-50).reduce((a, b) => a + b, 0) / 50}
        : lossSummary(trainer.history),
    pred,
    probe,
    out
  })
)
