// Sum for the tfjs wasm backend when it reduces a block of leading or middle axes: the bias
// gradient of every dense and conv layer (dy summed over its rows) and of every broadcast add.
// The native kernel reduces only innermost axes, so it first transposes the input, which is slow
// for these shapes (see ./wasm-transpose.ts). Here x is seen as [outer, rows, columns] and the
// rows are added in one JS pass over the heap, four at a time, in float64. Measured on this
// machine (1 thread, fresh inputs, median us, native vs here): [512,96] over axis 0 302 vs 54,
// [2048,32] 480 vs 51, [2048,384] 6970 vs 810, [64,96] 29 vs 8. (ones[1,R] x X on XNNPACK was
// tried first: 18 us when X was cached, but it packs X on every call, 210-2100 us.) Innermost
// reductions and non-adjacent axes go to the native kernel. float64 accumulation: results agree
// with the native kernel to float32 rounding, not bit for bit (test/backend/wasm-layout.test.ts).
import * as tf from '@tensorflow/tfjs'
import type {KernelFunc, TensorInfo} from '@tensorflow/tfjs'
import {heapOffset, type KernelHeap} from './wasm-heap.js'

const {util} = tf

/** out[o, c] = sum over r of x[o, r, c], float64 accumulation. */
function sumRows(x: Float32Array, out: Float32Array, outer: number, rows: number, columns: number): void {
  const acc = new Float64Array(columns)
  const block = rows * columns
  for (let o = 0; o < outer; o++) {
    acc.fill(0)
    const start = o * block
    let r = 0
    for (; r + 4 <= rows; r += 4) {
      const b = start + r * columns
      for (let c = 0; c < columns; c++)
        acc[c] += x[b + c] + x[b + columns + c] + x[b + 2 * columns + c] + x[b + 3 * columns + c]
    }
    for (; r < rows; r++) {
      const b = start + r * columns
      for (let c = 0; c < columns; c++) acc[c] += x[b + c]
    }
    for (let c = 0; c < columns; c++) out[o * columns + c] = acc[c]
  }
}

export function sumKernel(native: () => KernelFunc): KernelFunc {
  return args => {
    const x = (args.inputs as {x: TensorInfo}).x
    const {axis, keepDims} = args.attrs as {axis: number | number[]; keepDims: boolean}
    if (x.dtype !== 'float32') return native()(args)
    const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b)
    const first = axes[0]
    const last = axes[axes.length - 1]
    const adjacent = axes.length > 0 && last - first === axes.length - 1
    if (!adjacent || last === x.shape.length - 1) return native()(args)
    const outer = util.sizeFromShape(x.shape.slice(0, first))
    const rows = util.sizeFromShape(x.shape.slice(first, last + 1))
    const columns = util.sizeFromShape(x.shape.slice(last + 1))
    const kept = x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
    const heap = args.backend as unknown as KernelHeap
    const out = heap.makeOutput(keepDims ? kept : kept.filter((_, i) => i < first || i > last), 'float32')
    // views after the allocation: the heap may grow (and move) when memory is allocated
    const mem = heap.wasm.HEAPF32
    const view = (t: TensorInfo, size: number) => {
      const start = heapOffset(heap, t)
      return mem.subarray(start, start + size)
    }
    sumRows(view(x, outer * rows * columns), view(out, outer * columns), outer, rows, columns)
    return out
  }
}
