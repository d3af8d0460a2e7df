// The caption stage (paper §2.1): every image of the dataset gets an attribute record and a
// caption, from the measured captioner (default, no model needed) or from LLaVA via Ollama.
// Unsharded it writes captions/captions.jsonl, failures.jsonl and metadata.csv; with a shard
// it writes captions/parts/part-i-of-n.jsonl (+ .failures.jsonl) and its own manifest in
// captions/parts/part-i-of-n/, which `medgen merge captions` joins.
import {dirname, join} from 'node:path'
import type {MedgenConfig} from '../config/schema.js'
import {log} from '../util/log.js'
import {inShard, partName, type Shard} from '../util/shard.js'
import {configHashOf, readManifest} from './manifest.js'
import {UserError} from '../errors.js'
import {pathExists, writeFileAtomic} from '../io/atomic.js'
import {runStage, type StageContext, type StageResult, type StageSpec} from './stage.js'
import {captionAll} from './caption/runner.js'
import {CaptionStore, metadataCsv} from './caption/store.js'
import {OllamaCaptioner} from '../caption/ollama-captioner.js'
import {MeasuredCaptioner} from '../caption/captioner-measured.js'
import {vocabularies} from '../caption/vocab.js'
import {loadCaptionItems} from './caption/items.js'
import type {Captioner} from '../caption/captioner.js'
import type {DatasetKind} from '../data/attributes.js'
import {datasetPathOf, runLayout, stageDirs} from '../run/layout.js'

/**
 * What defines the captions: the captioner and its model settings (not the host, concurrency,
 * timeouts or retries, which change how fast, not what), plus the dataset settings.
 */
export function captionConfigSlice(config: MedgenConfig): unknown {
  const c = config.caption
  const data = {
    path: datasetPathOf(config),
    layout: config.data.layout,
    kind: config.data.kind,
    testFraction: config.data.testFraction,
    valFraction: config.data.valFraction
  }
  if (c.captioner === 'measured') return {captioner: 'measured', data}
  return {
    captioner: 'ollama',
    model: c.model,
    mode: c.mode,
    temperature: c.temperature,
    topK: c.topK,
    topP: c.topP,
    numCtx: c.numCtx,
    numPredict: c.numPredict,
    refineModel: c.refineModel,
    refineAboveWords: c.refineModel ? c.refineAboveWords : undefined,
    data
  }
}

function makeCaptioner(config: MedgenConfig, kind: DatasetKind, stop: AbortController): Captioner {
  const c = config.caption
  if (c.captioner === 'measured') return new MeasuredCaptioner(kind, config.data.onCorrupt)
  return new OllamaCaptioner({
    host: c.host,
    model: c.model,
    mode: c.mode,
    kind,
    vocabulary: vocabularies[kind],
    sampling: {temperature: c.temperature, top_k: c.topK, top_p: c.topP, num_ctx: c.numCtx, num_predict: c.numPredict},
    seed: config.run.seed,
    retries: c.retries,
    timeoutMs: c.timeoutMs,
    backoffMs: c.backoffMs,
    stream: c.stream,
    refine: c.refineModel ? {model: c.refineModel, aboveWords: c.refineAboveWords} : null,
    stop: stop.signal
  })
}

export interface CaptionStageOptions {
  shard?: Shard | null
  /** a captioner already checked by `runCaption`, which checks before anything is written */
  prepared?: {captioner: Captioner; stop: AbortController}
}

export function makeCaptionStage(opts: CaptionStageOptions = {}): StageSpec {
  const shard = opts.shard ?? null
  return {
    name: 'caption',
    dir: shard ? runLayout('').captions.parts.stageDir(shard) : stageDirs.caption,
    configSlice: captionConfigSlice,
    inputs: config => [{path: datasetPathOf(config), madeBy: 'medgen synth'}],
    work: ctx => captionWork(ctx, shard, opts.prepared)
  }
}

/** The spec `medgen run` uses: unsharded, checks the captioner itself. */
export const captionStage: StageSpec = makeCaptionStage()

async function captionWork(
  ctx: StageContext,
  shard: Shard | null,
  prepared?: CaptionStageOptions['prepared']
): Promise<StageResult> {
  const {config, runDir} = ctx
  const {items: allItems, kind, missingMasks, datasetPath} = await loadCaptionItems(config, runDir)
  const items = inShard(allItems, shard)
  const stop = prepared?.stop ?? new AbortController()
  const captioner = prepared?.captioner ?? makeCaptioner(config, kind, stop)
  if (!prepared) await captioner.prepare()
  if (missingMasks > 0 && config.caption.captioner === 'measured') {
    log.warn(
      `${missingMasks} images have no mask: their anatomy attributes are "unknown" (listed in each caption's "unknown" field)`
    )
  }
  const layout = runLayout(runDir).captions
  const stem = shard ? partName(shard) : 'captions'
  const captionsFile = shard ? layout.parts.jsonl(shard) : layout.jsonl
  const files = {
    captions: captionsFile,
    failures: shard ? layout.parts.failures(shard) : layout.failures,
    // resume state beside the captions it belongs to (hidden: not an artifact)
    state: join(dirname(captionsFile), `.${stem}.state.json`),
    metadata: layout.metadataCsv
  }
  const store = new CaptionStore(files.captions, files.failures, files.state)
  const notes0 = captioner.notes
  const storeHash = configHashOf({
    slice: captionConfigSlice(config),
    seed: config.run.seed,
    digest: notes0.digest ?? null
  })
  const summary = await captionAll({
    items,
    captioner,
    store,
    configHash: storeHash,
    resume: ctx.resume,
    concurrency: config.caption.concurrency,
    label: shard ? `caption ${stem}` : 'caption',
    stopController: stop
  })
  // failures.jsonl always exists (possibly empty) so that the manifest can hash it.
  const failures = await store.readFailures()
  await writeFileAtomic(files.failures, failures.map(f => JSON.stringify(f) + '\n').join(''))
  const outputs = [files.captions, files.failures]
  if (!shard) {
    await writeFileAtomic(files.metadata, metadataCsv(await store.readCaptions()))
    outputs.push(files.metadata)
  }
  if (summary.failed > 0)
    log.warn(
      `${summary.failed} of ${summary.total} images got no caption; reasons in ${files.failures}; rerun with --force to retry them`
    )
  const retries = captioner.notes.retriesUsed
  log.info(
    `caption: ${summary.kept + summary.captioned} captions in ${files.captions} (${summary.captioned} new, ${summary.kept} kept, ${summary.failed} failed)` +
      (typeof retries === 'number' ? `; the server needed ${retries} ${retries === 1 ? 'retry' : 'retries'}` : '')
  )
  return {
    outputs,
    notes: {
      ...captioner.notes,
      datasetPath,
      kind,
      images: allItems.length,
      missingMasks,
      shard: shard ? `${shard.index}/${shard.count}` : null,
      ...summary
    }
  }
}

export interface RunCaptionOptions {
  shard?: Shard | null
  force?: boolean
  resume?: boolean
}

/**
 * What `medgen caption` does: check the dataset path and the captioner (server up, model
 * pulled) before anything is written, then run the stage.
 */
export async function runCaption(
  config: MedgenConfig,
  opts: RunCaptionOptions = {}
): Promise<{skipped: boolean; seconds: number; failed: number; total: number}> {
  const datasetPath = datasetPathOf(config)
  if (!(await pathExists(datasetPath))) {
    throw new UserError(
      `dataset folder ${datasetPath} does not exist; pass the dataset folder (medgen caption <folder>) or set data.path`
    )
  }
  // Reading the layout here makes a folder that is not a dataset fail before anything is written.
  const {kind} = await loadCaptionItems(config, config.run.dir, {kindOnly: true})
  let prepared: CaptionStageOptions['prepared']
  if (config.caption.captioner === 'ollama') {
    const stop = new AbortController()
    const captioner = makeCaptioner(config, kind, stop)
    await captioner.prepare()
    prepared = {captioner, stop}
  }
  const spec = makeCaptionStage({shard: opts.shard, prepared})
  const result = await runStage(spec, config, {force: opts.force, resume: opts.resume ?? true})
  // From the manifest, so that an up-to-date rerun reports the failures of the run it skips.
  const notes = (await readManifest(config.run.dir, spec.dir ?? spec.name))?.notes as
    {failed?: number; total?: number} | undefined
  return {...result, failed: notes?.failed ?? 0, total: notes?.total ?? 0}
}
