// Captions a list of images with bounded concurrency. Each finished image is appended durably
// at once (caption or failure), so a kill -9 loses only images in flight and a rerun skips
// what is written. SIGINT/SIGTERM/SIGUSR1 stop new requests, abort those in flight and exit
// with 130 (SIGINT) or 75 (requeue), as docs/DESIGN.md's reliability contract asks. A server that
// keeps failing on the connection stops the run instead of failing every remaining image.
import {ExitCode, UserError} from '../../errors.js'
import {writeFileAtomic} from '../../io/atomic.js'
import {progress} from '../../util/progress.js'
import {log} from '../../util/log.js'
import {CaptionFailure, CaptionStopped, type CaptionItem, type Captioner} from '../../caption/captioner.js'
import type {CaptionStore} from './store.js'
import type {CaptionRecord} from '../../caption/records.js'

export interface CaptionRunOptions {
  items: CaptionItem[]
  /** its requests should listen to stopController.signal */
  captioner: Captioner
  store: CaptionStore
  /** hash of the settings that define the captions; a change starts over */
  configHash: string
  resume: boolean
  concurrency: number
  label: string
  /** aborted by signals or a lost server; passed to the captioner's requests */
  stopController: AbortController
  /** consecutive images that fail on the connection before the run stops (server gone) */
  maxConsecutiveTransient?: number
}

export interface CaptionRunSummary {
  total: number
  /** captions already written by an earlier run and kept */
  kept: number
  captioned: number
  failed: number
}

export async function captionAll(opts: CaptionRunOptions): Promise<CaptionRunSummary> {
  const {items, captioner, store, stopController} = opts
  const done = await opts.store.open(opts.configHash, opts.resume)
  const pending = items.filter(item => !done.has(item.id))
  const kept = items.length - pending.length
  if (kept > 0) log.info(`${opts.label}: ${kept} of ${items.length} images already captioned, ${pending.length} to go`)
  const bar = progress(opts.label, items.length)
  if (kept > 0) bar.tick(kept)

  let stopReason: {message: string; exitCode: number} | null = null
  const stop = (message: string, exitCode: number) => {
    if (!stopReason) stopReason = {message, exitCode}
    stopController.abort()
  }
  const onSignal = (signal: NodeJS.Signals) =>
    stop(`stopped by ${signal}`, signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.requeue)
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGUSR1']
  for (const s of signals) process.on(s, onSignal)

  const maxConsecutive = opts.maxConsecutiveTransient ?? Math.max(5, 2 * opts.concurrency)
  let consecutiveTransient = 0
  let lastTransientReason = ''
  let captioned = 0
  let failed = 0
  let next = 0
  let writeError: unknown = null

  async function worker(): Promise<void> {
    while (!stopController.signal.aborted && next < pending.length) {
      const item = pending[next++]
      try {
        const outcome = await captioner.caption(item)
        // Written even when a stop arrived meanwhile: the answer is complete, keep it.
        const record: CaptionRecord = {
          id: item.id,
          file: item.file,
          class: item.className,
          split: item.split,
          ...outcome
        }
        await store.appendCaption(record)
        captioned++
        consecutiveTransient = 0
      } catch (err) {
        if (err instanceof CaptionStopped || stopController.signal.aborted) return
        if (!(err instanceof CaptionFailure)) {
          writeError = err
          stopController.abort()
          return
        }
        await store.appendFailure({
          id: item.id,
          file: item.file,
          reason: err.reason,
          attempts: err.attempts,
          ...(err.lastAnswer !== undefined ? {lastAnswer: err.lastAnswer} : {})
        })
        failed++
        if (err.transient) {
          consecutiveTransient++
          lastTransientReason = err.reason
          if (consecutiveTransient >= maxConsecutive) {
            stop(
              `${consecutiveTransient} images in a row failed on the connection (last: ${lastTransientReason})`,
              ExitCode.failure
            )
          }
        } else {
          consecutiveTransient = 0
        }
      }
      bar.tick(1, {failed})
    }
  }

  try {
    await Promise.all(Array.from({length: Math.min(opts.concurrency, Math.max(1, pending.length))}, () => worker()))
  } finally {
    for (const s of signals) process.off(s, onSignal)
    bar.stop()
  }
  if (writeError) throw writeError
  // Every image of this run failed on the connection (fewer images than it takes to stop early):
  // the server is gone, so the run has failed; it must not replace earlier captions with nothing.
  if (!stopReason && pending.length > 0 && captioned === 0 && consecutiveTransient >= pending.length) {
    stopReason = {
      message: `all ${pending.length} images failed on the connection (last: ${lastTransientReason})`,
      exitCode: ExitCode.failure
    }
  }
  if (stopReason) {
    const {message, exitCode} = stopReason as {message: string; exitCode: number}
    const left = items.length - kept - captioned - failed
    const earlier =
      store.workPath !== store.captionsPath ? ` (${store.captionsPath} from the earlier settings is unchanged)` : ''
    throw new UserError(
      `${message}; ${kept + captioned} captions kept in ${store.workPath}${earlier}, ${left} images left; rerun the same command to continue`,
      exitCode
    )
  }
  await finalize(store, items)
  return {total: items.length, kept, captioned, failed}
}

/**
 * Rewrites captions.jsonl (atomically) in id order with only the images of this run: the file
 * then does not depend on which request finished first, and images removed from the dataset
 * since an earlier run drop out.
 */
async function finalize(store: CaptionStore, items: CaptionItem[]): Promise<void> {
  const wanted = new Set(items.map(i => i.id))
  const byId = new Map<string, CaptionRecord>()
  for (const r of await store.readCaptions()) if (wanted.has(r.id)) byId.set(r.id, r)
  const rows = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  await writeFileAtomic(store.captionsPath, rows.map(r => JSON.stringify(r) + '\n').join(''))
  await store.commit()
}
