// Memory soak of the visual disentangler's training (issue 12 item 5, "same for the visual
// step"): trainSdnet runs a short and a long run on an in-memory random set; after each, the
// returned model is disposed and the tfjs tensors left over are counted. Leftovers that grow
// with the number of steps are a per-step leak; a constant leftover is a per-run leak.
//   node --expose-gc --import tsx scripts/soak-visual.ts [--short 5] [--long 45] [--json]
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import * as tf from '@tensorflow/tfjs'
import {initBackend} from '../src/backend/index.js'
import {sdnetConfig} from '../src/models/sdnet/config.js'
import type {SplitName, VisualData} from '../src/stages/visual/data.js'
import {trainSdnet} from '../src/stages/visual/trainer.js'
import {Rng} from '../src/util/rng.js'

export interface VisualSoakRun {
  steps: number
  leftoverTensors: number
  leftoverBytes: number
  rssMiB: number
  seconds: number
}
export interface VisualSoakResult {
  runs: VisualSoakRun[]
  leakPerStep: number
  leakPerRun: number
}

/** 20 random 32 px images with disc masks: 16 train, 4 val. */
function randomData(size = 32, n = 20): VisualData {
  const rng = new Rng('soak-visual')
  const images = Float32Array.from(rng.normalArray(n * size * size * 3), v => Math.tanh(v))
  const masks = new Float32Array(n * size * size)
  for (let i = 0; i < n; i++) {
    const r = 4 + rng.int(8)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        masks[i * size * size + y * size + x] = (y - 16) ** 2 + (x - 16) ** 2 < r * r ? 1 : 0
  }
  const splits: SplitName[] = Array.from({length: n}, (_, i) => (i < 16 ? 'train' : 'val'))
  return {size, ids: Array.from({length: n}, (_, i) => `v${i}`), splits, images, masks}
}

async function oneRun(data: VisualData, steps: number): Promise<VisualSoakRun> {
  const dir = mkdtempSync(join(tmpdir(), 'medgen-soak-visual-'))
  const gc = (globalThis as {gc?: () => void}).gc
  const before = tf.memory().numTensors
  const bytesBefore = tf.memory().numBytes
  const started = Date.now()
  try {
    const r = await trainSdnet(data, {
      model: sdnetConfig({imageSize: data.size, ndf: 4, adain: 'learned'}),
      seed: 3,
      epochs: Math.ceil(steps / 4) + 1,
      batchSize: 4,
      lr: 2e-3,
      checkpointDir: dir,
      checkpointEvery: 1000,
      keepCheckpoints: 1,
      resume: false,
      stopAfterSteps: steps
    })
    r.model.dispose()
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
  gc?.()
  return {
    steps,
    leftoverTensors: tf.memory().numTensors - before,
    leftoverBytes: tf.memory().numBytes - bytesBefore,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    seconds: (Date.now() - started) / 1000
  }
}

export async function soakVisual(
  short: number,
  long: number,
  log: (line: string) => void = () => {}
): Promise<VisualSoakResult> {
  const data = randomData()
  const runs: VisualSoakRun[] = []
  for (const steps of [short, long]) {
    const run = await oneRun(data, steps)
    runs.push(run)
    log(
      `${steps} steps: ${run.leftoverTensors} tensors (${run.leftoverBytes} B) left after disposing the model, rss ${run.rssMiB.toFixed(1)} MiB, ${run.seconds.toFixed(1)} s`
    )
  }
  const [a, b] = runs
  return {
    runs,
    leakPerStep: (b.leftoverTensors - a.leftoverTensors) / (b.steps - a.steps),
    leakPerRun: a.leftoverTensors
  }
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.env.MEDGEN_QUIET = '1'
  await initBackend('wasm', 1)
  const r = await soakVisual(Number(arg('short', '5')), Number(arg('long', '45')), line =>
    console.log(`soak-visual: ${line}`)
  )
  console.log(`soak-visual: ${r.leakPerStep} tensors leaked per step, ${r.leakPerRun} per run`)
  if (process.argv.includes('--json')) console.log(`soak-visual-json ${JSON.stringify(r)}`)
  process.exitCode = r.leakPerStep === 0 ? 0 : 1
}
