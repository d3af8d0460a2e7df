// The caption files of one run (or one shard): captions.jsonl, failures.jsonl and the state
// that lets a rerun resume. Every finished image is appended durably at once, so a kill -9
// loses at most the images in flight, and a rerun skips what is already written
// (docs/DESIGN.md "Reliability contract"; the line format is src/caption/records.ts).
import {promises as fs} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {appendLineDurable, readJsonl, writeFileAtomic, writeJsonAtomic} from '../../io/atomic.js'
import {captionLineSchema, idSchema, type CaptionRecord, type FailureRecord} from '../../caption/records.js'
import {z} from '../../io/validate.js'
import {staysInside} from '../../io/paths.js'

/** The store's own files also need the image path (metadata.csv is built from it). */
const storedCaptionSchema = captionLineSchema.extend({
  file: z.string().refine(staysInside, 'must be a relative path inside the dataset folder'),
  class: z.string(),
  split: z.string()
})
const failureSchema = z.looseObject({id: idSchema, file: z.string(), reason: z.string(), attempts: z.number()})

/** `staging`: this run started over beside a finished captions file, and appends to the staging files. */
interface StoreState {
  configHash: string
  staging?: boolean
}

export class CaptionStore {
  private chain: Promise<void> = Promise.resolve()
  private staging = false

  constructor(
    readonly captionsPath: string,
    readonly failuresPath: string,
    readonly statePath: string
  ) {}

  /** Where this run's captions are appended: captions.jsonl, or its staging file while a run under new settings is unfinished. */
  get workPath(): string {
    return this.staging ? stagingPath(this.captionsPath) : this.captionsPath
  }
  private get workFailuresPath(): string {
    return this.staging ? stagingPath(this.failuresPath) : this.failuresPath
  }

  /**
   * Prepares for a run whose caption settings hash to `configHash`. Returns the ids already
   * captioned (kept and skipped). Captions written under other settings (another model,
   * prompt or options) are not kept, and earlier failures are retried; but a finished
   * captions.jsonl stays in place until the new run completes (`commit`): the new captions go to
   * a staging file beside it, so a new run that fails (server down) loses nothing (issue 23, class 7).
   */
  async open(configHash: string, resume: boolean): Promise<Set<string>> {
    const state = await readState(this.statePath)
    const keep = resume && state?.configHash === configHash
    if (keep) {
      this.staging = state?.staging === true
      await dropTornLine(this.workPath)
    } else {
      await fs.rm(stagingPath(this.captionsPath), {force: true})
      this.staging = await hasContent(this.captionsPath)
      if (!this.staging) await fs.rm(this.captionsPath, {force: true})
    }
    await fs.rm(this.workFailuresPath, {force: true})
    await writeJsonAtomic(this.statePath, {configHash, staging: this.staging} satisfies StoreState)
    const done = new Set<string>()
    for (const record of await this.readCaptions()) done.add(record.id)
    return done
  }

  /**
   * The run finished and captions.jsonl has been rewritten from `readCaptions()`: drop the
   * staging files (failures move to failures.jsonl) and mark the store as not staging.
   */
  async commit(): Promise<void> {
    if (!this.staging) return
    await writeFileAtomic(this.failuresPath, await fs.readFile(this.workFailuresPath).catch(() => ''))
    await fs.rm(this.workFailuresPath, {force: true})
    const state = await readState(this.statePath)
    this.staging = false
    await writeJsonAtomic(this.statePath, {configHash: state?.configHash ?? '', staging: false} satisfies StoreState)
    await fs.rm(stagingPath(this.captionsPath), {force: true})
  }

  /** Appends are serialised so that concurrent workers never interleave inside a line. */
  appendCaption(record: CaptionRecord): Promise<void> {
    return this.enqueue(() => appendLineDurable(this.workPath, JSON.stringify(record)))
  }

  appendFailure(record: FailureRecord): Promise<void> {
    return this.enqueue(() => appendLineDurable(this.workFailuresPath, JSON.stringify(record)))
  }

  private enqueue(write: () => Promise<void>): Promise<void> {
    const next = this.chain.then(write)
    this.chain = next.catch(() => {})
    return next
  }

  async readCaptions(): Promise<CaptionRecord[]> {
    return readStoredCaptions(this.workPath)
  }
  async readFailures(): Promise<FailureRecord[]> {
    return readFailureLines(this.workFailuresPath)
  }
}

export async function readStoredCaptions(path: string): Promise<CaptionRecord[]> {
  return (await readJsonl(path, storedCaptionSchema, 'caption')) as CaptionRecord[]
}

export async function readFailureLines(path: string): Promise<FailureRecord[]> {
  return (await readJsonl(path, failureSchema, 'failure record')) as FailureRecord[]
}

/** `captions/.captions.jsonl.next` beside `captions/captions.jsonl`. */
function stagingPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.next`)
}

async function hasContent(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).size > 0
  } catch {
    return false
  }
}

async function readState(path: string): Promise<StoreState | null> {
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as StoreState
  } catch {
    return null
  }
}

/**
 * A kill during an append can leave a last line without its newline; the next append would
 * glue a new record onto it. Rewrite the file without the torn tail before appending again.
 */
export async function dropTornLine(path: string): Promise<void> {
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch {
    return
  }
  if (text === '' || text.endsWith('\n')) return
  await writeFileAtomic(path, text.slice(0, text.lastIndexOf('\n') + 1))
}

/** RFC 4180 field: quoted when it holds a comma, quote, or line break; quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}

/** captions/metadata.csv in the Hugging Face imagefolder convention: `file_name,text`. */
export function metadataCsv(records: Pick<CaptionRecord, 'file' | 'caption'>[]): string {
  const lines = ['file_name,text']
  for (const r of records) lines.push(`${csvField(r.file)},${csvField(r.caption)}`)
  return lines.join('\n') + '\n'
}
