// Direct views of float32 tensors on the wasm heap, for updates written in JS over memory a
// tensor owns alone (the fused AdamW step, src/train/adamw.ts): one loop instead of a dozen
// engine kernels per parameter.
import * as tf from '@tensorflow/tfjs'

/** The parts of tfjs-backend-wasm's BackendWasm (backend_wasm.js) used here. */
interface WasmBackendHeap {
  dataIdMap: {get(dataId: object): {memoryOffset: number | null} | undefined}
  refCount(dataId: object): number
  wasm: {HEAPF32: Float32Array}
}

/**
 * Float32Array views of each tensor's memory when the wasm backend is active, every tensor is
 * float32 and, for those in `writable`, no other tensor shares the memory (refCount 1: wasm's
 * Reshape and our Identity share buffers, and writing one would change the other); else null.
 * The views are valid until the next allocation on the heap (it may grow and move).
 */
export function wasmHeapViews(
  read: tf.Tensor[],
  writable: tf.Tensor[]
): {read: Float32Array[]; write: Float32Array[]} | null {
  if (tf.getBackend() !== 'wasm') return null
  const backend = tf.backend() as unknown as WasmBackendHeap
  if (typeof backend.refCount !== 'function' || !backend.dataIdMap) return null
  const view = (t: tf.Tensor): Float32Array | null => {
    const entry = backend.dataIdMap.get(t.dataId)
    if (t.dtype !== 'float32' || !entry || entry.memoryOffset === null) return null
    return new Float32Array(backend.wasm.HEAPF32.buffer, entry.memoryOffset, t.size)
  }
  if (writable.some(t => backend.refCount(t.dataId) !== 1)) return null
  const r = read.map(view)
  const w = writable.map(view)
  if (r.includes(null) || w.includes(null)) return null
  return {read: r as Float32Array[], write: w as Float32Array[]}
}
