// Backend selection (docs/DESIGN.md "Tensors and backends"): tfjs-node-gpu > tfjs-node > wasm > cpu,
// overridable by --backend / MEDGEN_BACKEND. The wasm backend gets the gradient kernels it
// lacks registered from ./wasm-kernels before any training starts.
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {availableParallelism, loadavg} from 'node:os'
import {UserError} from '../errors.js'

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu'
export type BackendChoice = BackendName | 'auto'

const require = createRequire(import.meta.url)
let active: {name: BackendName; tf: typeof import('@tensorflow/tfjs')} | null = null
let wasmThreads = 0

async function tryImport(name: string): Promise<boolean> {
  try {
    await import(name)
    return true
  } catch {
    return false
  }
}

/**
 * wasm threads when neither run.threads nor MEDGEN_WASM_THREADS says: one per core left idle by
 * the rest of the machine (1-minute load average), at least 1. XNNPACK hands part of every conv
 * and matmul to its pool threads and waits for them; on oversubscribed cores those threads are
 * often not scheduled, and they spin between calls on the core the main thread needs. Measured on
 * 2 cores at load 13.5-14 (docs/BENCHMARKS.md, issue 20): the demo DiT step took 0.9-1.4 s with
 * one thread and 1.6-3.9 s with two.
 */
export function autoWasmThreads(cores = availableParallelism(), load = loadavg()[0]): number {
  return Math.max(1, Math.min(cores, Math.floor(cores - load) + 1))
}

/** Initialises tfjs once per process and returns the backend actually in use. */
export async function initBackend(choice: BackendChoice = 'auto', threads = 0): Promise<BackendName> {
  const wanted = (process.env.MEDGEN_BACKEND as BackendChoice | undefined) || choice
  if (active) {
    if (wanted !== 'auto' && wanted !== active.name)
      throw new Error(`backend ${active.name} already initialised, cannot switch to ${wanted}`)
    return active.name
  }
  const tf = await import('@tensorflow/tfjs')
  const order: BackendName[] =
    wanted === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [wanted as BackendName]
  if (!['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'].includes(wanted)) {
    throw new UserError(`backend "${wanted}": unknown; use one of auto, tensorflow-gpu, tensorflow, wasm, cpu`)
  }
  for (const name of order) {
    if (name === 'tensorflow-gpu' || name === 'tensorflow') {
      // tfjs-node registers the 'tensorflow' backend on import (the GPU build uses the same name).
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node'
      if (!(await tryImport(pkg))) {
        if (wanted !== 'auto')
          throw new UserError(
            `backend ${name}: ${pkg} is not installed or failed to load (it needs libtensorflow; see README "GPU")`
          )
        continue
      }
      if (await tf.setBackend('tensorflow')) {
        active = {name, tf}
        break
      }
    } else if (name === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm')
      const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/'
      wasm.setWasmPaths(wasmDir)
      const envThreads = Number(process.env.MEDGEN_WASM_THREADS)
      const count = envThreads > 0 ? envThreads : threads > 0 ? threads : autoWasmThreads()
      wasmThreads = count
      wasm.setThreadsCount(count)
      const {registerWasmGradientKernels} = await import('./wasm-kernels.js')
      registerWasmGradientKernels()
      const {withNodeWasmThreads, unrefPoolWorkers} = await import('./wasm-threads.js')
      const ok = await withNodeWasmThreads(
        count,
        () => tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true),
        () => tf.setBackend('wasm')
      )
      if (ok) {
        unrefPoolWorkers((tf.backend() as unknown as {wasm?: unknown}).wasm)
        active = {name, tf}
        break
      }
      if (wanted !== 'auto') throw new UserError('backend wasm failed to initialise')
    } else {
      await import('@tensorflow/tfjs-backend-cpu')
      // tfjs-backend-cpu's nearest-upsample gradient is wrong for batch > 1; replace it.
      const {registerCpuKernelFixes} = await import('./wasm-kernels.js')
      registerCpuKernelFixes()
      if (await tf.setBackend('cpu')) {
        active = {name, tf}
        break
      }
    }
  }
  if (!active) throw new UserError(`no tfjs backend could be initialised (tried ${order.join(', ')})`)
  await tf.ready()
  return active.name
}

export function activeBackend(): BackendName | null {
  return active?.name ?? null
}

/** The thread count the wasm backend was started with (0 when another backend is active). */
export function activeWasmThreads(): number {
  return active?.name === 'wasm' ? wasmThreads : 0
}
