// Multi-threaded wasm in Node. tfjs-backend-wasm ships a threaded SIMD build (XNNPACK on a
// pthreadpool) but turns it off in Node (tfjs issue #3830), so every conv and matmul ran on one
// core. Three things stand in the way, and this module works around each during initialisation:
//  1. WASM_HAS_MULTITHREAD_SUPPORT returns false when IS_NODE: we set the flag.
//  2. Emscripten starts its pthread workers from Blob URLs (the worker script and the factory
//     source), which Node's worker_threads cannot load: Blobs made during init remember their
//     text, and createObjectURL / the worker's "load" message get a file path instead. The
//     factory source is a fragment of tfjs's Node bundle; it needs the bundle's top-level
//     aliases (commonjsGlobal, require$$N), which we prepend.
//  3. The C++ side caps the pool at emscripten_num_logical_cores() / 2 (it assumes two
//     hyper-threads per core, backend.cc), i.e. one thread on a 2-core machine: os.cpus() is
//     reported doubled while the module's static constructors run.
// Results are bit-identical to the single-threaded build (XNNPACK splits output tiles, each
// computed whole by one thread); measured here: 1024^2 matmul 84 -> 47 ms, conv 57 -> 29 ms.
import {createHash} from 'node:crypto'
import {existsSync, renameSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import {join} from 'node:path'
import {Worker} from 'node:worker_threads'

const FACTORY_PRELUDE =
  "var commonjsGlobal=globalThis,require$$0=require('fs'),require$$1=require('path'),require$$3=require('perf_hooks'),require$$4=require('os');"

type TextBlob = Blob & {medgenText?: string}

/** Writes `text` once to a content-addressed .cjs file in the temp dir (atomic: parallel processes may race). */
function scriptFile(text: string): string {
  const path = join(os.tmpdir(), `medgen-wasm-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.cjs`)
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.tmp`
    writeFileSync(tmp, text)
    renameSync(tmp, path)
  }
  return path
}

let workerPatched = false

/**
 * Runs `init` (which must call tf.setBackend('wasm')) with the patches above in place and
 * restores the globals afterwards. `setFlag` sets WASM_HAS_MULTITHREAD_SUPPORT on tfjs's env.
 */
export async function withNodeWasmThreads<T>(threads: number, setFlag: () => void, init: () => Promise<T>): Promise<T> {
  if (threads <= 1) return init()
  setFlag()
  const OriginalBlob = globalThis.Blob
  const originalCreate = URL.createObjectURL
  const originalCpus = os.cpus
  globalThis.Blob = class extends OriginalBlob {
    medgenText: string
    constructor(...args: ConstructorParameters<typeof Blob>) {
      const [parts = [], options] = args
      super(parts, options)
      this.medgenText = parts.map(String).join('')
    }
  } as typeof Blob
  URL.createObjectURL = (obj: Blob) => {
    const text = (obj as TextBlob).medgenText
    return text === undefined ? originalCreate(obj) : scriptFile(text)
  }
  if (!workerPatched) {
    workerPatched = true
    const post = Worker.prototype.postMessage
    Worker.prototype.postMessage = function (this: Worker, message: unknown, transfer?: never) {
      const msg = message as {cmd?: string; urlOrBlob?: TextBlob} | null
      if (msg?.cmd === 'load' && msg.urlOrBlob?.medgenText !== undefined) {
        message = {...msg, urlOrBlob: scriptFile(FACTORY_PRELUDE + msg.urlOrBlob.medgenText)}
      }
      return post.call(this, message, transfer)
    }
  }
  os.cpus = () => {
    const cpus = originalCpus()
    return [...cpus, ...cpus]
  }
  // Emscripten's Node glue rethrows from process-wide error handlers, which prints its whole
  // minified source line for any uncaught error; medgen reports errors itself.
  const events = ['uncaughtException', 'unhandledRejection']
  const before = events.map(e => new Set<unknown>(process.listeners(e as 'uncaughtException')))
  try {
    return await init()
  } finally {
    globalThis.Blob = OriginalBlob
    URL.createObjectURL = originalCreate
    os.cpus = originalCpus
    events.forEach((e, i) => {
      for (const listener of process.listeners(e as 'uncaughtException'))
        if (!before[i].has(listener)) process.removeListener(e, listener)
    })
  }
}

/**
 * Emscripten ref()s a worker while its pthread runs, and XNNPACK's pool threads run for the
 * life of the process, so Node would never exit on its own: unref them (they only wait on
 * atomics between ops and hold nothing that needs flushing).
 */
export function unrefPoolWorkers(wasmModule: unknown): void {
  const pthreads = (wasmModule as {PThread?: {runningWorkers?: Worker[]}} | undefined)?.PThread
  for (const worker of pthreads?.runningWorkers ?? []) worker.unref()
}
