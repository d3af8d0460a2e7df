// Direct views of float32 tensors on the wasm heap, for updates written in JS over memory a
// tensor owns alone (the fused AdamW step, src/train/adamw.ts): one loop instead of a dozen
// engine kernels per parameter.
import * as tf from '@tensorflow/tfjs'
import type {TensorInfo} from '@tensorflow/tfjs'

/**
 * The backend as kernels written in JS over the heap see it (./wasm-copy.ts, ./wasm-sum.ts,
 * ./wasm-normalize.ts): outputs to allocate, where each tensor lives, the heap itself.
 */
export interface KernelHeap {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo
  dataIdMap: {get(dataId: object): {memoryOffset: number} | undefined}
  wasm: {HEAPF32: Float32Array}
}

/** Index of a tensor's first float in heap.wasm.HEAPF32. */
export const heapOffset = (heap: KernelHeap, t: TensorInfo): number => heap.dataIdMap.get(t.dataId)!.memoryOffset / 4

/** The parts of tfjs-backend-wasm's BackendWasm (backend_wasm.js) used here. */
interface WasmBackendHeap {
  dataIdMap: {get(dataId: object): {id: number; memoryOffset: number | null} | undefined}
  refCount(dataId: object): number
  wasm: {
    HEAPF32: Float32Array
    tfjs: {disposeData(id: number): void; registerTensor(id: number, size: number, memoryOffset: number): void}
  }
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

/**
 * Tells the wasm backend's C++ side that these tensors' memory was written from JS. It caches
 * what it derives from a tensor under the tensor's id -- XNNPACK's packed copy of a matmul's
 * right operand (a weight) above all -- and drops it only when the id is disposed. Without this
 * an in-place parameter update left every later product with the weights of the first step
 * (found 2026-12-03: the text disentangler trained to 1.67 instead of 0.28). Unregistering and
 * registering the same id over the same memory runs those disposal callbacks and nothing else.
 */
export function invalidateWasmCaches(written: tf.Tensor[]): void {
  const backend = tf.backend() as unknown as WasmBackendHeap
  for (const t of written) {
    const entry = backend.dataIdMap.get(t.dataId)
    if (!entry || entry.memoryOffset === null) continue
    backend.wasm.tfjs.disposeData(entry.id)
    backend.wasm.tfjs.registerTensor(entry.id, t.size, entry.memoryOffset)
  }
}
