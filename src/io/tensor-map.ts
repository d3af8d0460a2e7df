// A named collection of host-side tensors: what weight files hold and what `forward` reads/writes.
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL'

export interface HostTensor {
  dtype: DType
  shape: number[]
  /** F16/BF16/F32 arrive as Float32Array; F64 as Float64Array; I64 as BigInt64Array; I32 as Int32Array */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int16Array | Int8Array
}

export type TensorMap = Map<string, HostTensor>

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/** Values as float32, converting integer dtypes (token ids etc.) where needed. */
export function toFloat32(t: HostTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data
  if (t.data instanceof BigInt64Array) return Float32Array.from(t.data, v => Number(v))
  return Float32Array.from(t.data as ArrayLike<number>)
}
