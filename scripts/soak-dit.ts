// Memory soak of the DiT training step (issue 12 item 5): N optimizer steps of DitTrainer.step
// (HFFM conditioning, condition dropout, colour loss in `train` mode, AdamW, clipping) on an
// in-memory random set, recording RSS and tf.memory() every `every` steps. A leak shows as a
// tensor count that grows after warm-up, or RSS that keeps climbing.
//   node --expose-gc --import tsx scripts/soak-dit.ts [--steps 2000] [--every 50] [--preset pixart-demo|micro] [--lora] [--batch 2] [--threads 1] [--json]
// (--expose-gc lets each sample collect garbage first; without it RSS also shows lazy GC.)
// test/reliability/soak.test.ts runs a reduced version (150 steps, micro) in CI.
import {pathToFileURL} from 'node:url'
import * as tf from '@tensorflow/tfjs'
import {initBackend, type BackendChoice} from '../src/backend/index.js'
import {pixartPreset} from '../src/models/pixart/config.js'
import {initPixArtParams} from '../src/models/pixart/transformer.js'
import {buildDitModel, type DitModelSpec} from '../src/stages/dit/model.js'
import {DitTrainer} from '../src/stages/dit/trainer.js'
import type {DitTrainingSet} from '../src/stages/dit/batch.js'
import {loraTargetList} from '../src/models/lora.js'
import {Rng} from '../src/util/rng.js'

export interface SoakOptions {
  steps: number
  every: number
  preset: 'pixart-demo' | 'micro'
  lora: boolean
  batchSize: number
}
export interface SoakSample {
  step: number
  rssMiB: number
  heapMiB: number
  externalMiB: number
  wasmHeapMiB: number
  numTensors: number
  numBytes: number
  loss: number
}
export interface SoakResult {
  samples: SoakSample[]
  /** tensor count after warm-up minus at the end (0 = flat) */
  tensorGrowth: number
  /** median RSS of the last five samples minus that of the first five after warm-up, MiB */
  rssGrowthMiB: number
  /** JS heap + external buffers + wasm linear memory, end minus after warm-up, MiB (what a leak would grow) */
  heapGrowthMiB: number
  secondsPerStep: number
}

/** pixart-demo as users run it, or a 2-layer 16 px transformer for CI. */
function specFor(preset: SoakOptions['preset']): DitModelSpec {
  const transformer =
    preset === 'micro'
      ? {
          ...pixartPreset('pixart-demo'),
          num_layers: 2,
          num_attention_heads: 2,
          attention_head_dim: 8,
          patch_size: 2,
          sample_size: 16,
          cross_attention_dim: 16,
          caption_channels: 16
        }
      : pixartPreset('pixart-demo')
  return {
    transformer,
    space: 'pixel',
    latentScale: 1,
    conditioner: {
      mode: 'hffm',
      captionChannels: transformer.caption_channels,
      anatomyDim: 8,
      styleDim: 8,
      hidden: 32,
      textDim: 24,
      numClasses: 3
    },
    lora: {rank: 4, alpha: 4, targets: loraTargetList('broad')}
  }
}

/** Random images and features in the shapes finetune-dit builds from a run directory. */
function randomSet(spec: DitModelSpec, n: number): DitTrainingSet {
  const rng = new Rng('soak-set')
  const s = spec.transformer.sample_size
  const textDim = spec.conditioner.textDim
  const textLength = 6
  return {
    space: 'pixel',
    storedShape: [s, s, 3],
    modelShape: [s, s, 3],
    latentScale: 1,
    anatomyDim: 8,
    styleDim: 8,
    textDim,
    textLength,
    classNames: ['a', 'b', 'c'],
    samples: Array.from({length: n}, () => Float32Array.from(rng.normalArray(s * s * 3), v => Math.tanh(v))),
    examples: Array.from({length: n}, (_, i) => ({
      id: `soak${i}`,
      classIndex: i % 3,
      anatomy: rng.normalArray(8),
      style: rng.normalArray(8),
      textPooled: rng.normalArray(textDim),
      textTokens: rng.normalArray(textLength * textDim),
      textMask: Float32Array.from({length: textLength}, (_, k) => (k < 4 + (i % 3) ? 1 : 0))
    }))
  }
}

const MiB = 2 ** 20
/** Size of the wasm backend's linear memory (0 on other backends): it grows, never shrinks. */
function wasmHeapBytes(): number {
  const b = tf.backend() as unknown as {wasm?: {HEAPU8?: Uint8Array}}
  return b.wasm?.HEAPU8?.length ?? 0
}

export function soakDit(o: SoakOptions, log: (line: string) => void = () => {}): SoakResult {
  const spec = specFor(o.preset)
  let base: Map<string, tf.Tensor> | null = null
  if (o.lora) {
    // A seeded random frozen base: the LoRA path (paper §2.3) instead of training from scratch.
    base = new Map()
    for (const [k, v] of initPixArtParams(spec.transformer, new Rng('soak-base'))) {
      base.set(k, v.clone())
      v.dispose()
    }
  }
  const model = buildDitModel(spec, base, new Rng('soak-model'))
  const trainer = new DitTrainer(model, randomSet(spec, 16), {
    steps: o.steps,
    batchSize: o.batchSize,
    lr: 1e-4,
    weightDecay: 0.01,
    warmupSteps: 10,
    gradClip: 1,
    condDropout: 0.1,
    colour: {mode: 'train', weight: 0.05, every: 1},
    seed: 11
  })
  const samples: SoakSample[] = []
  const started = Date.now()
  for (let i = 0; i < o.steps; i++) {
    const loss = trainer.step(i)
    const done = i + 1
    if (done === 1 || done % o.every === 0 || done === o.steps) {
      // Collect garbage first when allowed (node --expose-gc), so RSS shows what is still held.
      ;(globalThis as {gc?: () => void}).gc?.()
      const m = tf.memory()
      const u = process.memoryUsage()
      const sample = {
        step: done,
        rssMiB: u.rss / MiB,
        heapMiB: u.heapUsed / MiB,
        externalMiB: u.external / MiB,
        wasmHeapMiB: wasmHeapBytes() / MiB,
        numTensors: m.numTensors,
        numBytes: m.numBytes,
        loss
      }
      samples.push(sample)
      log(
        `step ${done}: rss ${sample.rssMiB.toFixed(1)} MiB, js heap ${sample.heapMiB.toFixed(1)} MiB, external ${sample.externalMiB.toFixed(1)} MiB, ` +
          `wasm heap ${sample.wasmHeapMiB.toFixed(1)} MiB, tensors ${m.numTensors} (${m.numBytes} B), loss ${loss.toFixed(4)}`
      )
    }
  }
  const seconds = (Date.now() - started) / 1000
  // Warm-up: the first sample after step 1 (optimizer moments exist from the first step on).
  const warmIndex = Math.max(
    0,
    samples.findIndex(s => s.step >= Math.min(o.every, o.steps))
  )
  const warm = samples[warmIndex]
  const last = samples[samples.length - 1]
  // RSS swings by ~100 MiB between samples (malloc arenas): compare medians of five samples
  const medianRss = (xs: SoakSample[]) => {
    const v = xs.map(x => x.rssMiB).sort((a, b) => a - b)
    return v[Math.floor(v.length / 2)]
  }
  const heap = (x: SoakSample) => x.heapMiB + x.externalMiB + x.wasmHeapMiB
  trainer.optimizer.dispose()
  return {
    samples,
    tensorGrowth: last.numTensors - warm.numTensors,
    rssGrowthMiB: medianRss(samples.slice(-5)) - medianRss(samples.slice(warmIndex, warmIndex + 5)),
    heapGrowthMiB: heap(last) - heap(warm),
    secondsPerStep: seconds / o.steps
  }
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.env.MEDGEN_QUIET = '1'
  const backend = await initBackend(arg('backend', 'wasm') as BackendChoice, Number(arg('threads', '1')))
  const options: SoakOptions = {
    steps: Number(arg('steps', '2000')),
    every: Number(arg('every', '50')),
    preset: arg('preset', 'pixart-demo') as SoakOptions['preset'],
    lora: process.argv.includes('--lora'),
    batchSize: Number(arg('batch', '2'))
  }
  console.log(
    `soak-dit: ${options.steps} steps, ${options.preset}${options.lora ? ' + LoRA' : ' from scratch'}, batch ${options.batchSize}, backend ${backend}`
  )
  const r = soakDit(options, line => console.log(line))
  console.log(
    `soak-dit: tensor growth after warm-up ${r.tensorGrowth}, heap growth ${r.heapGrowthMiB.toFixed(2)} MiB, ` +
      `RSS growth ${r.rssGrowthMiB.toFixed(1)} MiB, ${r.secondsPerStep.toFixed(3)} s/step`
  )
  if (process.argv.includes('--json')) console.log(`soak-dit-json ${JSON.stringify(r)}`)
  process.exitCode = r.tensorGrowth === 0 ? 0 : 1
}
