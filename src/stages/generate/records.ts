// samples/manifest.jsonl (DEVELOPING.md contract): one line per image, appended durably as each
// batch finishes; a rerun skips the ids already there with the same settings. Summaries and
// contact sheets are derived from it, so they can be rebuilt after a merge of shards.
import {join} from 'node:path'
import {readJsonl, writeFileAtomic, writeJsonAtomic, pathExists} from '../../io/atomic.js'
import {z} from '../../io/validate.js'
import {staysInside} from '../../io/paths.js'
import {writeContactSheet} from '../../util/contact-sheet.js'
import type {Attributes} from '../../data/attributes.js'
import {runLayout} from '../../run/layout.js'

export interface SampleRecord {
  id: string
  /** PNG path relative to the run directory: samples/<class>/<id>.png */
  file: string
  class: string
  prompt: string
  seed: number
  sampler: string
  steps: number
  guidance: number
  /** wall seconds of the image's batch (conditioning, sampling, decoding, PNG) divided by its size */
  seconds: number
  source: string
  attributes?: Attributes
  /** fingerprint of the trained text model + DiT that made it (a retrained model redoes the image) */
  model: string
  backend?: string | null
}

/** What readers of samples/manifest.jsonl rely on; other fields are kept as they are. */
export const sampleLineSchema = z.looseObject({
  id: z.string().min(1),
  file: z.string().refine(staysInside, 'must be a relative path inside the run folder'),
  class: z.string(),
  seed: z.number().optional(),
  attributes: z.record(z.string(), z.string()).optional()
})

/** samples/manifest.jsonl (or a part of it), each line validated. */
export async function readSampleLines(path: string): Promise<SampleRecord[]> {
  return (await readJsonl(path, sampleLineSchema, 'sample record')) as unknown as SampleRecord[]
}

/** Last line per id wins (a regenerated image supersedes the old line); first-seen order kept. */
export function latestById(records: SampleRecord[]): SampleRecord[] {
  const byId = new Map<string, SampleRecord>()
  for (const r of records) {
    if (byId.has(r.id)) byId.delete(r.id)
    byId.set(r.id, r)
  }
  return [...byId.values()]
}

export async function readRecords(path: string): Promise<SampleRecord[]> {
  return latestById(await readSampleLines(path))
}

/** Rewrites a manifest without superseded lines (atomic). */
export async function compactManifest(path: string, records: SampleRecord[]): Promise<void> {
  await writeFileAtomic(path, records.map(r => JSON.stringify(r) + '\n').join(''))
}

export interface SamplesSummary {
  images: number
  classes: Record<string, number>
  meanSecondsPerImage: number | null
  settings: Array<{sampler: string; steps: number; guidance: number; images: number}>
  lastRun?: Record<string, unknown>
}

export function summarize(records: SampleRecord[], lastRun?: Record<string, unknown>): SamplesSummary {
  const classes: Record<string, number> = {}
  const settings = new Map<string, {sampler: string; steps: number; guidance: number; images: number}>()
  let seconds = 0
  for (const r of records) {
    classes[r.class] = (classes[r.class] ?? 0) + 1
    seconds += r.seconds
    const key = `${r.sampler}|${r.steps}|${r.guidance}`
    const s = settings.get(key) ?? {sampler: r.sampler, steps: r.steps, guidance: r.guidance, images: 0}
    s.images++
    settings.set(key, s)
  }
  return {
    images: records.length,
    classes,
    meanSecondsPerImage: records.length ? seconds / records.length : null,
    settings: [...settings.values()],
    ...(lastRun ? {lastRun} : {})
  }
}

/** summary.json plus one contact sheet per class; returns the files written. */
export async function writeSummaryAndSheets(
  runDir: string,
  records: SampleRecord[],
  lastRun?: Record<string, unknown>
): Promise<string[]> {
  const written: string[] = []
  const {summary, contactSheet} = runLayout(runDir).samples
  await writeJsonAtomic(summary, summarize(records, lastRun))
  written.push(summary)
  const byClass = new Map<string, SampleRecord[]>()
  for (const r of records) byClass.set(r.class, [...(byClass.get(r.class) ?? []), r])
  for (const [cls, rs] of byClass) {
    const present: SampleRecord[] = []
    for (const r of rs) if (await pathExists(join(runDir, r.file))) present.push(r)
    if (present.length === 0) continue
    const path = contactSheet(cls)
    await writeContactSheet(
      path,
      present.map(r => ({file: join(runDir, r.file), label: r.prompt})),
      {
        title: `${cls}: ${present.length} sample${present.length === 1 ? '' : 's'} (${rs[0].sampler}, ${rs[0].steps} steps, guidance ${rs[0].guidance})`
      }
    )
    written.push(path)
  }
  return written
}
