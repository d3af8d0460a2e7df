// Concat and SplitV for the wasm backend as plain row copies over the heap. tfjs-backend-wasm
// 4.22 concatenates with one TypedArray.set per row and input, and splits with one strided Slice
// per piece; on the channel axis of NHWC activations (rows of 8-64 floats: SDNet's U-Net skip
// connections, and the SplitV that is Concat's gradient) both ran at ~0.05 G elements/s, 25-35x
// slower than an element-wise kernel on the same tensor (issue 20: [8,64,64,16] split in two
// halves 14 ms, concat of two 8.9 ms, at load 14). Copies only: results are bit-identical.
// float32 only; anything else goes to the native kernel.
import * as tf from '@tensorflow/tfjs'
import type {KernelFunc, TensorInfo} from '@tensorflow/tfjs'
import {heapOffset, type KernelHeap} from './wasm-heap.js'

const {backend_util, util} = tf

/**
 * Copies `rows` rows of `width` floats from src (stride srcStride, starting at srcStart) to dst
 * (stride dstStride, starting at dstStart): short rows element by element (set() costs more than
 * the copy below ~32 floats), long ones with copyWithin.
 */
function copyRows(
  heap: Float32Array,
  rows: number,
  width: number,
  srcStart: number,
  srcStride: number,
  dstStart: number,
  dstStride: number
): void {
  if (width >= 32) {
    for (let r = 0; r < rows; r++)
      heap.copyWithin(dstStart + r * dstStride, srcStart + r * srcStride, srcStart + r * srcStride + width)
    return
  }
  for (let r = 0; r < rows; r++) {
    const s = srcStart + r * srcStride
    const d = dstStart + r * dstStride
    for (let j = 0; j < width; j++) heap[d + j] = heap[s + j]
  }
}

export function concatKernel(native: () => KernelFunc): KernelFunc {
  return args => {
    const inputs = args.inputs as unknown as TensorInfo[]
    if (inputs.length < 2 || inputs.some(t => t.dtype !== 'float32')) return native()(args)
    const axis = util.parseAxisParam((args.attrs as {axis: number}).axis, inputs[0].shape)[0]
    backend_util.assertParamsConsistent(
      inputs.map(t => t.shape),
      axis
    )
    const parts = inputs.filter(t => util.sizeFromShape(t.shape) > 0)
    if (parts.length < 2) return native()(args)
    const heap = args.backend as unknown as KernelHeap
    const out = heap.makeOutput(
      backend_util.computeOutShape(
        inputs.map(t => t.shape),
        axis
      ),
      'float32'
    )
    const rows = util.sizeFromShape(parts[0].shape.slice(0, axis))
    const widths = parts.map(t => util.sizeFromShape(t.shape.slice(axis)))
    const total = widths.reduce((a, b) => a + b, 0)
    const f32 = heap.wasm.HEAPF32 // after the allocation: the heap may have grown
    const dst = heapOffset(heap, out)
    let col = 0
    parts.forEach((t, i) => {
      copyRows(f32, rows, widths[i], heapOffset(heap, t), widths[i], dst + col, total)
      col += widths[i]
    })
    return out
  }
}

export function splitVKernel(native: () => KernelFunc): KernelFunc {
  return args => {
    const x = (args.inputs as {x: TensorInfo}).x
    if (x.dtype !== 'float32') return native()(args)
    const {numOrSizeSplits, axis} = args.attrs as unknown as {numOrSizeSplits: number | number[]; axis: number}
    const ax = util.parseAxisParam(axis, x.shape)[0]
    const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, ax)
    const heap = args.backend as unknown as KernelHeap
    const rows = util.sizeFromShape(x.shape.slice(0, ax))
    const inner = util.sizeFromShape(x.shape.slice(ax + 1))
    const total = x.shape[ax] * inner
    const outs = sizes.map(s =>
      heap.makeOutput(
        x.shape.map((d, i) => (i === ax ? s : d)),
        'float32'
      )
    )
    const f32 = heap.wasm.HEAPF32
    const src = heapOffset(heap, x)
    let col = 0
    outs.forEach((o, i) => {
      const width = sizes[i] * inner
      if (width > 0) copyRows(f32, rows, width, src + col, total, heapOffset(heap, o), width)
      col += width
    })
    return outs
  }
}
