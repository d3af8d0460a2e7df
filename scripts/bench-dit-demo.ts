// Measures the pixart-demo preset's training step on the current backend (default wasm):
// node --import tsx scripts/bench-dit-demo.ts [steps=30] [batch=8] [colourMode=train]
// Prints JSON: median/mean ms per optimizer step (forward + backward + AdamW), params, loss.
import {initBackend} from '../src/backend/index.js'
import {Rng} from '../src/util/rng.js'
import {pixartPreset, countPixArtParams} from '../src/models/pixart/config.js'
import {buildDitModel, countTrainable, type DitModelSpec} from '../src/stages/dit/model.js'
import {DitTrainer, lossSummary} from '../src/stages/dit/trainer.js'
import type {DitTrainingSet} from '../src/stages/dit/batch.js'

const steps = Number(process.argv[2] ?? 30)
const batch = Number(process.argv[3] ?? 8)
const colour = (process.argv[4] ?? 'train') as 'off' | 'logged' | 'train'
const backend = await initBackend((process.env.MEDGEN_BACKEND as any) ?? 'wasm')
const cfg = pixartPreset('pixart-demo')
const spec: DitModelSpec = {transformer: cfg, space: 'pixel', latentScale: 1,
  conditioner: {mode: 'hffm', captionChannels: cfg.caption_channels, anatomyDim: 8, styleDim: 8, hidden: 256, textDim: 0, numClasses: 0},
  lora: {rank: 8, alpha: 8, targets: []}}
const rng = new Rng(1)
const S = 36
const samples: Float32Array[] = []
const examples: DitTrainingSet['examples'] = []
for (let i = 0; i < 64; i++) {
  const img = new Float32Array(S * S * 3)
  const r = 6 + rng.int(8)
  for (let p = 0; p < S * S; p++) {
    const y = Math.floor(p / S) - S / 2, x = (p % S) - S / 2
    const inside = x * x + y * y < r * r
    img[p * 3] = inside ? -0.4 : 0.7; img[p * 3 + 1] = inside ? -0.6 : 0.3; img[p * 3 + 2] = inside ? -0.7 : 0.2
  }
  samples.push(img)
  examples.push({id: String(i), classIndex: i % 2, anatomy: rng.normalArray(8), style: rng.normalArray(8)})
}
const data: DitTrainingSet = {space: 'pixel', samples, storedShape: [S, S, 3], modelShape: [32, 32, 3], latentScale: 1, examples, anatomyDim: 8, styleDim: 8, textDim: 0, textLength: 0, classNames: ['a', 'b']}
const model = buildDitModel(spec, null, rng)
const trainer = new DitTrainer(model, data, {steps, batchSize: batch, lr: 1e-3, weightDecay: 0.01, warmupSteps: 5, gradClip: 1, condDropout: 0.1,
  colour: {mode: colour, weight: 0.05, every: 1}, seed: 1})
const times: number[] = []
for (let i = 0; i < steps; i++) {
  const t0 = performance.now()
  trainer.step(i)
  times.push(performance.now() - t0)
}
const sorted = times.slice(3).sort((a, b) => a - b)
console.log(JSON.stringify({backend, preset: 'pixart-demo', batch, steps, colour, params: countPixArtParams(cfg), trainable: countTrainable(model),
  msPerStepMedian: sorted[Math.floor(sorted.length / 2)], msPerStepMean: sorted.reduce((a, b) => a + b, 0) / sorted.length, loss: lossSummary(trainer.history)}))
