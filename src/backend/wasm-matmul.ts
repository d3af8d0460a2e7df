// BatchMatMul for the tfjs wasm backend, routed onto XNNPACK. tfjs-backend-wasm 4.22 sends a
// product to XNNPACK (threaded, ~40 GFLOP/s on 2 cores here) only when neither operand is
// transposed and both have batch 1; everything else -- transposeA/transposeB, a batch of
// attention heads, a 3-D activation against a 2-D weight -- goes to a plain C++ loop on one core
// that ran 10-20x slower (measured: [2048,384]x[384,384] 15 ms; the same with transposeB 298 ms;
// 48 heads of [256,64]x[64,256] 222 ms). tf.matMul's own gradient uses exactly the transposed
// forms, so every dense layer's backward pass and every attention took the slow loop.
// This kernel makes each case a plain one first: transposes become an explicit Transpose (a copy,
// O(size), cheap next to the product), a batch against one shared right operand becomes one tall
// product, and a batch of distinct pairs becomes one XNNPACK product per pair. Results match a float64
// product (test/backend/wasm-matmul.test.ts), including batches broadcast against each other
// ([2,1] with [1,3]), which tfjs's own cpu and wasm kernels get wrong.
import * as tf from '@tensorflow/tfjs'
import type {KernelFunc, TensorInfo} from '@tensorflow/tfjs'
import {Scratch, type WasmBackendLike} from './wasm-scratch.js'

const {backend_util, util} = tf

/**
 * Below this many multiply-adds per pair, one XNNPACK call per pair costs more in call overhead
 * than the native loop spends on the arithmetic. Measured at 48 pairs of d x d x d (median ms,
 * per-pair calls vs native loop): d=8 0.93 vs 0.15, 16 0.60 vs 0.52, 24 0.81 vs 0.77,
 * 32 0.83 vs 1.71, 64 2.6 vs 11.4, 128 15.7 vs 86.7.
 */
const MIN_WORK_PER_PAIR = 24 * 24 * 24

/**
 * tfjs-backend-wasm hands a product to XNNPACK as a fully connected operator that holds a packed
 * copy of the right operand, cached under that tensor's id until the tensor is disposed. For the
 * weights of a frozen model that is a second copy of every weight: PixArt-XL-2's forward at 256 px
 * took the wasm heap from 3.0 to the 4 GB ceiling and its LoRA step aborted (test:scale,
 * 2026-12-03). From this many elements up (4 MB; PixArt-XL-2's smallest linear weight is 1.3M)
 * the copy is made per call and freed after it: packing costs O(k n) against the product's
 * O(m k n). The demo's and the benches' weights stay cached.
 */
const UNCACHED_RIGHT_ELEMENTS = 1 << 20

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({length: rank}, (_, i) => i)
  perm[rank - 2] = rank - 1
  perm[rank - 1] = rank - 2
  return perm
}

/** The parts of tfjs-backend-wasm's BackendWasm (backend_wasm.js) used to make zero-copy views. */
interface WasmHeap {
  dataIdMap: {get(dataId: object): {id: number; memoryOffset: number} | undefined; delete(dataId: object): boolean}
  /** With a memoryOffset, registers a tensor over existing memory instead of allocating. */
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number): TensorInfo
  disposeData(dataId: object): boolean
  wasm: {HEAPF32: Float32Array; tfjs: {disposeData(id: number): void}}
}

/** Unregisters a view without freeing the memory it points into (disposeData would free it). */
function releaseView(heap: WasmHeap, view: TensorInfo): void {
  const entry = heap.dataIdMap.get(view.dataId)!
  heap.wasm.tfjs.disposeData(entry.id)
  heap.dataIdMap.delete(view.dataId)
}

/**
 * a [1,m,k] x b [1,k,n] on the native (XNNPACK) kernel with b seen through a view with an id of
 * its own, released at once: XNNPACK's packed copy of b is freed with the view instead of living
 * as long as b (a large weight, see UNCACHED_RIGHT_ELEMENTS). The caller owns the result.
 */
function productUncached(backend: unknown, native: KernelFunc, a: TensorInfo, b: TensorInfo): TensorInfo {
  const heap = backend as WasmHeap
  const view = heap.makeOutput(b.shape, 'float32', heap.dataIdMap.get(b.dataId)!.memoryOffset)
  try {
    const out = native({inputs: {a, b: view}, backend: backend as never, attrs: {transposeA: false, transposeB: false}})
    return Array.isArray(out) ? out[0] : out
  } finally {
    releaseView(heap, view)
  }
}

/** x [...batch, r, c] tiled to [...outBatch, r, c] (numpy broadcasting of the batch dims). */
function broadcastBatch(s: Scratch, x: TensorInfo, outBatch: number[]): TensorInfo {
  const batch = x.shape.slice(0, -2)
  const padded = [...Array(outBatch.length - batch.length).fill(1), ...batch]
  if (util.arraysEqual(padded, outBatch)) return x
  const matrix = x.shape.slice(-2)
  const reshaped = s.reshape(x, [...padded, ...matrix])
  return s.run('Tile', {x: reshaped}, {reps: [...outBatch.map((d, i) => d / padded[i]), 1, 1]})
}

/** Wraps the native kernel (`native()` returns it; it is looked up when first needed). */
export function batchMatMulKernel(native: () => KernelFunc): KernelFunc {
  return args => {
    const {inputs, backend, attrs} = args
    const {a, b} = inputs as {a: TensorInfo; b: TensorInfo}
    const {transposeA, transposeB} = attrs as {transposeA: boolean; transposeB: boolean}
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2)
      return native()(args)
    const s = new Scratch(backend as WasmBackendLike)
    /** The native kernel on untransposed operands; the caller owns the result. */
    const nativeProduct = (x: TensorInfo, y: TensorInfo): TensorInfo => {
      const out = native()({inputs: {a: x, b: y}, backend, attrs: {transposeA: false, transposeB: false}})
      return Array.isArray(out) ? out[0] : out
    }
    const plain = (x: TensorInfo, y: TensorInfo): TensorInfo => s.keep(nativeProduct(x, y))
    let left = transposeA ? s.run('Transpose', {x: a}, {perm: swapLastTwo(a.shape.length)}) : a
    let right = transposeB ? s.run('Transpose', {x: b}, {perm: swapLastTwo(b.shape.length)}) : b
    const [m, k] = left.shape.slice(-2)
    const n = right.shape[right.shape.length - 1]
    const outBatch = backend_util.assertAndGetBroadcastShape(left.shape.slice(0, -2), right.shape.slice(0, -2))
    if (util.sizeFromShape(left.shape.slice(0, -2)) > 1 && util.sizeFromShape(right.shape.slice(0, -2)) > 1) {
      // both batched but shaped differently ([2,1] against [1,3]): tile both to the full batch.
      // tfjs's own kernels (cpu and wasm) return wrong values here: they pair batch i with i.
      left = broadcastBatch(s, left, outBatch)
      right = broadcastBatch(s, right, outBatch)
    }
    const batchA = left.shape.slice(0, -2)
    const batchB = right.shape.slice(0, -2)
    const sizeA = util.sizeFromShape(batchA)
    const sizeB = util.sizeFromShape(batchB)
    const outShape = [...outBatch, m, n]
    if (sizeB === 1) {
      // every left matrix against the same right one: a single [sizeA*m, k] x [k, n] product
      const tall = s.reshape(left, [1, sizeA * m, k])
      if (k * n < UNCACHED_RIGHT_ELEMENTS)
        return s.finish(s.reshape(plain(tall, s.reshape(right, [1, k, n])), outShape))
      return s.finish(
        s.reshape(s.keep(productUncached(backend, native(), tall, s.reshape(right, [1, k, n]))), outShape)
      )
    }
    if (m * k * n >= MIN_WORK_PER_PAIR) {
      // one XNNPACK product per pair, on zero-copy views of each operand's pair (wasm's Slice
      // kernel copies at ~0.45 ms per 64 KB, as much as the product itself), each result copied
      // into its place in the output buffer
      const heap = backend as never as WasmHeap
      const output = heap.makeOutput(outShape, 'float32')
      const outOffset = heap.dataIdMap.get(output.dataId)!.memoryOffset
      const leftOffset = heap.dataIdMap.get(left.dataId)!.memoryOffset
      const rightOffset = heap.dataIdMap.get(right.dataId)!.memoryOffset
      for (let i = 0; i < sizeB; i++) {
        const li = heap.makeOutput([1, m, k], 'float32', leftOffset + 4 * (sizeA === 1 ? 0 : i * m * k))
        const ri = heap.makeOutput([1, k, n], 'float32', rightOffset + 4 * i * k * n)
        const product = nativeProduct(li, ri)
        releaseView(heap, li)
        releaseView(heap, ri)
        const from = heap.dataIdMap.get(product.dataId)!.memoryOffset / 4
        heap.wasm.HEAPF32.copyWithin(outOffset / 4 + i * m * n, from, from + m * n)
        heap.disposeData(product.dataId)
      }
      return s.finish(s.keep(output))
    }
    // pairs too small to pay for a call each: the native loop, on the untransposed operands
    return s.finish(s.reshape(plain(s.reshape(left, [sizeA, m, k]), s.reshape(right, [sizeB, k, n])), outShape))
  }
}
