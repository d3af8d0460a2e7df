// Kernel-level helpers for the wasm kernels in ./wasm-kernels.ts and ./wasm-matmul.ts: call a
// registered wasm kernel directly (no engine, so nothing lands on a gradient tape) and free every
// intermediate but the result.
import * as tf from '@tensorflow/tfjs'
import type {TensorInfo, NamedAttrMap} from '@tensorflow/tfjs'

export interface WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean
}

export type Inputs = Record<string, TensorInfo> | TensorInfo[]

/** Runs one registered wasm kernel directly; the caller owns (and must free) the result. */
export function call(backend: WasmBackendLike, name: string, inputs: Inputs, attrs: NamedAttrMap = {}): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm')
  if (!kernel) throw new Error(`wasm backend has no ${name} kernel`)
  const out = kernel.kernelFunc({inputs: inputs as never, backend: backend as never, attrs})
  return Array.isArray(out) ? out[0] : out
}

/** Collects intermediates so that each kernel frees everything but its result. */
export class Scratch {
  private readonly held: TensorInfo[] = []
  constructor(readonly backend: WasmBackendLike) {}
  run(name: string, inputs: Inputs, attrs: NamedAttrMap = {}): TensorInfo {
    const out = call(this.backend, name, inputs, attrs)
    this.held.push(out)
    return out
  }
  /** Takes ownership of a result made elsewhere (e.g. by a replaced native kernel). */
  keep(out: TensorInfo): TensorInfo {
    this.held.push(out)
    return out
  }
  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', {x}, {shape})
  }
  /** Frees every intermediate except `keep`, which is handed to the engine as the result. */
  finish(keep: TensorInfo): TensorInfo {
    for (const t of this.held) if (t !== keep) this.backend.disposeData(t.dataId)
    return keep
  }
}
