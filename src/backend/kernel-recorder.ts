// Records what the active backend actually runs: every kernel dispatched (name and input dtypes)
// and the peak of the bytes tfjs tracks, sampled after each kernel. Used by `medgen check-weights`
// (peak memory of a forward/training step) and by the kernel-coverage test, which checks the
// recorded names against what @tensorflow/tfjs-node registers. It wraps the backend's registered
// kernels (tfjs looks kernels up by name on each dispatch), so ops, gradients and custom kernels
// are all seen; uninstall() puts the originals back.
import * as tf from '@tensorflow/tfjs'

/** A kernel as dispatched: its name and each input's dtype (`inputs` by tfjs input name: x, indices, a, b, ...). */
export interface KernelRecord {
  name: string
  dtypes: string[]
  inputs: Record<string, string>
}

export interface KernelRecorder {
  /** distinct (name, input dtypes) pairs seen, in first-dispatch order */
  readonly seen: Map<string, KernelRecord>
  /** how many kernels ran */
  readonly dispatches: () => number
  /** highest tf.memory().numBytes after any kernel since install/resetPeak */
  readonly peakBytes: () => number
  resetPeak(): void
  uninstall(): void
}

export function installKernelRecorder(backendName: string = tf.getBackend()): KernelRecorder {
  const originals = tf.getKernelsForBackend(backendName)
  const seen = new Map<string, KernelRecord>()
  let peak = tf.memory().numBytes
  let count = 0
  for (const config of originals) {
    const inner = config.kernelFunc
    tf.unregisterKernel(config.kernelName, backendName)
    tf.registerKernel({
      ...config,
      kernelFunc: args => {
        const inputs: Record<string, string> = {}
        for (const [input, t] of Object.entries(args.inputs)) {
          // Concat/AddN take a list under one name: name them tensors.0, tensors.1, ...
          if (Array.isArray(t))
            t.forEach((u, i) => {
              if (u != null) inputs[`${input}.${i}`] = (u as tf.TensorInfo).dtype
            })
          else if (t != null) inputs[input] = (t as tf.TensorInfo).dtype
        }
        const dtypes = Object.values(inputs)
        const key = `${config.kernelName}:${Object.entries(inputs)
          .map(([n, d]) => `${n}=${d}`)
          .join(',')}`
        if (!seen.has(key)) seen.set(key, {name: config.kernelName, dtypes, inputs})
        count++
        const out = inner(args)
        // the outputs are not yet counted by the engine; add their bytes so the peak includes them
        const outs = Array.isArray(out) ? out : [out]
        let outBytes = 0
        for (const o of outs) outBytes += o.shape.reduce((a, b) => a * b, 1) * (o.dtype === 'complex64' ? 8 : 4)
        peak = Math.max(peak, tf.memory().numBytes + outBytes)
        return out
      }
    })
  }
  return {
    seen,
    dispatches: () => count,
    peakBytes: () => peak,
    resetPeak: () => {
      peak = tf.memory().numBytes
    },
    uninstall: () => {
      for (const config of originals) {
        tf.unregisterKernel(config.kernelName, backendName)
        tf.registerKernel(config)
      }
    }
  }
}

/** Bytes of the wasm module's linear memory (it only grows, so this is the heap's high-water mark); null on other backends. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null
  // the threaded build exposes its Memory; the single-threaded one (run.threads 1, chosen under
  // load) only its heap views, which cover the same memory
  const wasm = (tf.backend() as unknown as {wasm?: {wasmMemory?: {buffer: ArrayBufferLike}; HEAP8?: Int8Array}}).wasm
  return wasm?.wasmMemory?.buffer.byteLength ?? wasm?.HEAP8?.buffer.byteLength ?? null
}

/** wasm32 addresses at most 4 GiB: the ceiling of the wasm backend's heap. */
export const WASM_HEAP_LIMIT_BYTES = 4 * 2 ** 30
