// Transpose for the tfjs wasm backend, for the one case its native kernel handles badly: a plain
// 2-D transpose [R, C] -> [C, R] with many rows. The native 2-D loop writes the output with a
// stride of R floats, and when R is a multiple of a large power of two (512, 2048: every
// activation of the DiT flattened to [batch*tokens, channels]) it ran at 3-8 ns per element; the
// same data seen as a 3-D tensor [8, R/8, C] with permutation [2, 0, 1] -- the same result, byte
// for byte -- goes through the native 3-D loop at 0.4-1 ns. Measured on this machine, 1 thread
// (median us, native vs this route): [512,96] 290 vs 78, [512,384] 982 vs 200, [2048,384] 6470
// vs 925, [1152,256] 942 vs 370; [96,512] 40-75 vs 100 (few rows: left native), [4096,8] 13 vs
// 21 (narrow: left native). The tfjs BatchMatMul gradient makes one such transpose per dense
// layer (x^T dy), see ./wasm-matmul.ts. Copies only: results are bit-identical.
import type {KernelFunc, TensorInfo} from '@tensorflow/tfjs'
import {Scratch, type WasmBackendLike} from './wasm-scratch.js'

/** Rows below this (or a row narrower than MIN_COLUMNS) stay on the native kernel: it is fast there. */
const MIN_ROWS = 256
const MIN_COLUMNS = 32

/** [R, C] when `perm` on `shape` is a 2-D transpose once size-1 axes are dropped, else null. */
function plainTranspose(shape: number[], perm: number[]): [number, number] | null {
  const axes = perm.filter(a => shape[a] !== 1)
  if (axes.length !== 2 || axes[0] < axes[1]) return null
  return [shape[axes[1]], shape[axes[0]]]
}

export function transposeKernel(native: () => KernelFunc): KernelFunc {
  return args => {
    const x = (args.inputs as {x: TensorInfo}).x
    const perm = (args.attrs as {perm: number[]}).perm
    const plain = x.dtype === 'float32' ? plainTranspose(x.shape, perm) : null
    if (!plain) return native()(args)
    const [rows, columns] = plain
    const split = rows % 8 === 0 ? 8 : rows % 4 === 0 ? 4 : rows % 2 === 0 ? 2 : 1
    if (rows < MIN_ROWS || columns < MIN_COLUMNS || split === 1) return native()(args)
    const s = new Scratch(args.backend as WasmBackendLike)
    const folded = s.reshape(x, [split, rows / split, columns])
    const out = native()({...args, inputs: {x: folded}, attrs: {perm: [2, 0, 1]}}) as TensorInfo
    return s.finish(
      s.reshape(
        s.keep(out),
        perm.map(a => x.shape[a])
      )
    )
  }
}
