// What every captioner (measured, Ollama) takes and gives, and the bounded retry with
// exponential backoff that the Ollama path uses for lost connections, timeouts and 5xx.
import type {CaptionRecord} from './records.js'

/** One image to caption. */
export interface CaptionItem {
  id: string
  /** absolute image path */
  image: string
  /** absolute mask paths, unioned (BUSI has several per image); empty when there is none */
  masks: string[]
  className: string
  split: string
  /** image path relative to the dataset folder (captions.jsonl `file`, metadata.csv `file_name`) */
  file: string
}

export type CaptionOutcome = Omit<CaptionRecord, 'id' | 'file' | 'class' | 'split'>

export interface Captioner {
  /** settings and model identity for the stage manifest */
  readonly notes: Record<string, unknown>
  /** checks the captioner can run (server up, model present) before anything is written */
  prepare(): Promise<void>
  /** captions one image; throws CaptionFailure when it gives up on this image */
  caption(item: CaptionItem): Promise<CaptionOutcome>
}

/** An image that gets no caption: recorded in failures.jsonl, retried by the next run. */
export class CaptionFailure extends Error {
  constructor(
    readonly reason: string,
    readonly attempts: number,
    readonly lastAnswer?: string,
    /** true when the last attempt failed on the connection, not on the answer */
    readonly transient = false
  ) {
    super(reason)
    this.name = 'CaptionFailure'
  }
}

/** Raised inside workers when the run is being stopped (signal or lost server). */
export class CaptionStopped extends Error {
  constructor() {
    super('stopped')
    this.name = 'CaptionStopped'
  }
}

export interface BackoffOptions {
  /** first wait after a transient error, doubled after each further one */
  baseMs: number
  maxMs: number
  stop?: AbortSignal
}

export function backoffDelay(transientFailures: number, opts: BackoffOptions): number {
  return Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, transientFailures - 1))
}

/** Waits `ms`, or less if `stop` aborts (then throws CaptionStopped). */
export function sleep(ms: number, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stop?.aborted) return reject(new CaptionStopped())
    const timer = setTimeout(() => {
      stop?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new CaptionStopped())
    }
    stop?.addEventListener('abort', onAbort, {once: true})
  })
}
