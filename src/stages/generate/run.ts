// The generate loop (issue 8): text -> features -> HFFM condition -> guided reverse diffusion ->
// decode -> PNG, batch by batch (generate.batchSize), each image with its own seed, each finished
// image recorded durably in the manifest so an interrupted run resumes where it stopped.
import {join} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type {MedgenConfig} from '../../config/schema.js'
import {activeBackend} from '../../backend/index.js'
import {appendLineDurable, pathExists, sha256, sha256File, writeFileAtomic} from '../../io/atomic.js'
import {createScheduler} from '../../diffusion/index.js'
import {defaultSchedulerOptions} from '../../diffusion/scheduler.js'
import {sampleLatents} from '../../diffusion/sample.js'
import {usesGuidance} from '../../diffusion/guidance.js'
import {inShard, type Shard} from '../../util/shard.js'
import {progress} from '../../util/progress.js'
import {log} from '../../util/log.js'
import {buildItems, type ResolvedRequest, type SampleItem} from './items.js'
import {loadRunModels, type GenerateModels, type ModelLoader} from './models.js'
import {compactManifest, readRecords, writeSummaryAndSheets, type SampleRecord} from './records.js'
import {insideRoot} from '../../io/paths.js'
import {encodePng} from '../../io/images.js'
import {diffusersFiles, runLayout} from '../../run/layout.js'
import {writeControlGrid} from './control-grid.js'

export interface GenerateOptions {
  config: MedgenConfig
  runDir: string
  request: ResolvedRequest
  shard: Shard | null
  /** regenerate every requested image even when the manifest has it */
  force: boolean
  /** tests inject fakes; default loads the run's trained DiT and text conditioner */
  loadModels?: ModelLoader
}

export interface GenerateResult {
  requested: number
  generated: number
  skipped: number
  /** seconds spent in batches (conditioning, sampling, decode, PNG) over images generated now */
  meanSecondsPerImage: number | null
  loadSeconds: number
  manifest: string
  /** files written (manifest, summary, contact sheets, class folders) */
  outputs: string[]
}

/** [0,1] NHWC floats -> 8-bit, as diffusers' numpy_to_pil: round(x * 255) after clamping. */
export function toUint8(values: Float32Array | Uint8Array | Int32Array): Uint8Array {
  const out = new Uint8Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, values[i])) * 255)
  return out
}

function pngChannels(channels: number): 1 | 3 | 4 {
  if (channels !== 1 && channels !== 3 && channels !== 4)
    throw new Error(`decoded images have ${channels} channels; expected 1, 3 or 4`)
  return channels
}

/**
 * A fingerprint of the trained models: a retrained DiT or text model makes earlier images stale
 * even though their ids, seeds and settings are unchanged.
 */
export async function modelFingerprint(runDir: string): Promise<string> {
  const {text, dit} = runLayout('') // relative names: they are part of the fingerprint
  const files = [text.model, dit.meta, dit.hffm, dit.lora, join(dit.transformer, diffusersFiles.weights)]
  const parts: string[] = []
  for (const f of files) if (await pathExists(join(runDir, f))) parts.push(`${f}:${await sha256File(join(runDir, f))}`)
  return sha256(parts.join('\n')).slice(0, 16)
}

interface Settings {
  sampler: string
  steps: number
  guidance: number
  model: string
}

function isDone(record: SampleRecord | undefined, item: SampleItem, settings: Settings): boolean {
  return (
    !!record &&
    record.seed === item.seed &&
    record.prompt === item.prompt &&
    record.class === item.class &&
    record.sampler === settings.sampler &&
    record.steps === settings.steps &&
    record.guidance === settings.guidance &&
    record.model === settings.model
  )
}

export async function generateSamples(opts: GenerateOptions): Promise<GenerateResult> {
  const {config, runDir, shard} = opts
  const g = config.generate
  const settings: Settings = {
    sampler: g.sampler,
    steps: g.steps,
    guidance: g.guidance,
    model: await modelFingerprint(runDir)
  }
  const all = await buildItems(opts.request, {runDir, runSeed: config.run.seed, dataKind: config.data.kind})
  const items = inShard(all, shard)
  const layout = runLayout(runDir).samples
  const manifest = shard ? layout.parts.manifest(shard) : layout.manifest
  // A shard also counts what an unsharded run (or an earlier merge) already made: merge keeps those.
  const previous = [...(shard ? await readRecords(layout.manifest) : []), ...(await readRecords(manifest))]
  const byId = new Map(previous.map(r => [r.id, r]))
  const pending: SampleItem[] = []
  for (const item of items) {
    const done =
      !opts.force &&
      isDone(byId.get(item.id), item, settings) &&
      (await pathExists(join(runDir, byId.get(item.id)!.file)))
    if (!done) pending.push(item)
  }
  if (items.length > pending.length) {
    const where = shard ? `${layout.manifest} or ${manifest}` : manifest
    log.info(
      `generate: ${items.length - pending.length} of ${items.length} images already in ${where} with the same settings, skipped`
    )
  }

  let loadSeconds = 0
  let batchSeconds = 0
  if (pending.length > 0) {
    const loadStart = performance.now()
    const models = await (opts.loadModels ?? loadRunModels)(runDir, config)
    loadSeconds = (performance.now() - loadStart) / 1000
    try {
      batchSeconds = await runBatches(models, pending, opts, manifest, settings.model)
    } finally {
      models.dit.dispose()
      models.text.dispose?.()
    }
  }

  // One line per id in the final manifest (reruns append superseding lines while they work).
  const records = await readRecords(manifest)
  await compactManifest(manifest, records)
  const meanSecondsPerImage = pending.length ? batchSeconds / pending.length : null
  const lastRun = {
    requested: items.length,
    generated: pending.length,
    skipped: items.length - pending.length,
    meanSecondsPerImage,
    loadSeconds,
    backend: activeBackend(),
    ...settings,
    batchSize: g.batchSize,
    shard: shard ? `${shard.index}/${shard.count}` : null
  }
  const outputs = [manifest]
  if (!shard) {
    outputs.push(...(await writeSummaryAndSheets(runDir, records, lastRun)))
    const grid = await writeControlGrid(runDir, records)
    if (grid) outputs.push(grid)
  }
  for (const cls of new Set(records.map(r => r.class))) outputs.push(layout.classDir(cls))
  if (meanSecondsPerImage !== null) {
    log.info(
      `generate: ${pending.length} images, mean ${meanSecondsPerImage.toFixed(3)} s per image (${settings.sampler}, ${settings.steps} steps, guidance ${settings.guidance}, batch ${g.batchSize}, backend ${activeBackend()})`
    )
  }
  return {
    requested: items.length,
    generated: pending.length,
    skipped: items.length - pending.length,
    meanSecondsPerImage,
    loadSeconds,
    manifest,
    outputs
  }
}

async function runBatches(
  models: GenerateModels,
  pending: SampleItem[],
  opts: GenerateOptions,
  manifest: string,
  model: string
): Promise<number> {
  const {config, runDir} = opts
  const g = config.generate
  const bar = progress('generate', pending.length)
  let total = 0
  try {
    for (let start = 0; start < pending.length; start += g.batchSize) {
      const batch = pending.slice(start, start + g.batchSize)
      const began = performance.now()
      const pngs = await sampleBatch(models, batch, config)
      const files: string[] = []
      for (const [i, item] of batch.entries()) {
        const file = runLayout('').samples.image(item.class, item.id) // relative: the manifest's `file`
        await writeFileAtomic(insideRoot(runDir, file, `sample ${item.id} of class ${item.class}`), pngs[i])
        files.push(file)
      }
      const seconds = (performance.now() - began) / 1000
      total += seconds
      for (const [i, item] of batch.entries()) {
        const record: SampleRecord = {
          id: item.id,
          file: files[i],
          class: item.class,
          prompt: item.prompt,
          seed: item.seed,
          sampler: g.sampler,
          steps: g.steps,
          guidance: g.guidance,
          seconds: seconds / batch.length,
          source: item.source,
          ...(item.attributes ? {attributes: item.attributes} : {}),
          model,
          backend: activeBackend()
        }
        await appendLineDurable(manifest, JSON.stringify(record))
      }
      bar.tick(batch.length, {'s/img': (seconds / batch.length).toFixed(3)})
    }
  } finally {
    bar.stop()
  }
  return total
}

/** Conditions, samples and decodes one batch; returns one PNG per item. */
export async function sampleBatch(
  models: GenerateModels,
  batch: SampleItem[],
  config: MedgenConfig
): Promise<Buffer[]> {
  const g = config.generate
  const {dit, text} = models
  const n = batch.length
  const prompts = batch.map(b => b.prompt)
  const features = await text.encodeTexts(prompts)
  let cond
  try {
    const mode = dit.meta?.conditioner.mode
    cond =
      (mode === 'concat' || mode === 'text') && dit.conditionFromPrompts
        ? await dit.conditionFromPrompts(prompts, features.anatomy, features.style)
        : dit.conditionFromFeatures(features.anatomy, features.style, n, {classes: batch.map(b => b.class), prompts})
  } finally {
    features.embedding?.dispose()
  }
  let latents: Float32Array
  try {
    latents = await sampleLatents({
      denoiser: dit,
      scheduler: createScheduler(
        g.sampler,
        dit.clipRange ? {...defaultSchedulerOptions, x0ClipRange: dit.clipRange} : undefined
      ),
      steps: g.steps,
      guidance: usesGuidance(g.guidance) ? g.guidance : 1,
      cond,
      seeds: batch.map(b => b.seed)
    })
  } finally {
    tf.dispose([cond.tokens, cond.mask])
  }
  const [h, w, c] = dit.sampleShape
  const images = tf.tidy(() => dit.decode(tf.tensor4d(latents, [n, h, w, c])))
  const [, height, width, channels] = images.shape
  const pixels = toUint8((await images.data()) as Float32Array)
  images.dispose()
  const per = height * width * channels
  const out: Buffer[] = []
  for (let i = 0; i < n; i++)
    out.push(await encodePng(pixels.subarray(i * per, (i + 1) * per), width, height, pngChannels(channels)))
  return out
}
