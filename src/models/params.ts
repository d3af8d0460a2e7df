// Parameters live in plain maps keyed by the PyTorch/diffusers state_dict names, in tfjs
// layout (docs/DESIGN.md "Tensors and backends"): nn.Linear [out,in] -> [in,out]; Conv2d OIHW -> HWIO.
// Conversions happen only here, on load and on export.
import * as tf from '@tensorflow/tfjs'
import {toFloat32, type HostTensor, type TensorMap} from '../io/tensor-map.js'
import type {Rng} from '../util/rng.js'

export type ParamMap = Map<string, tf.Variable>

/** How a PyTorch tensor maps to tfjs layout. */
export type ParamKind = 'linear' | 'conv' | 'plain'

export function kindOf(shape: readonly number[], nameHint = ''): ParamKind {
  if (shape.length === 4) return 'conv'
  if (shape.length === 2 && nameHint.endsWith('weight') && !/embedding|embeddings|table/.test(nameHint)) return 'linear'
  return 'plain'
}

export function torchToTf(host: HostTensor, kind: ParamKind): tf.Tensor {
  const t = tf.tensor(toFloat32(host), host.shape, 'float32')
  if (kind === 'plain') return t
  const out = tf.tidy(() => (kind === 'linear' ? t.transpose([1, 0]) : t.transpose([2, 3, 1, 0]))) // conv: OIHW -> HWIO
  // the PyTorch-layout copy is garbage now; kept, it doubled every model's memory on load
  // (PixArt-XL-2: 4.9 GB, past the 4 GB wasm heap; found by npm run test:scale)
  t.dispose()
  return out
}

export async function tfToTorch(t: tf.Tensor, kind: ParamKind): Promise<HostTensor> {
  const out = tf.tidy(() =>
    kind === 'linear' ? t.transpose([1, 0]) : kind === 'conv' ? t.transpose([3, 2, 0, 1]) : t.clone()
  )
  const data = (await out.data()) as Float32Array
  const shape = out.shape.slice()
  out.dispose()
  return {dtype: 'F32', shape, data: new Float32Array(data)}
}

/** Xavier/Glorot-uniform values U(-a, a), a = sqrt(6 / (fanIn + fanOut)), drawn in order from rng (the from-scratch inits). */
export function xavierUniformValues(n: number, fanIn: number, fanOut: number, rng: Rng): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut))
  const values = new Float32Array(n)
  for (let i = 0; i < n; i++) values[i] = (rng.uniform() * 2 - 1) * limit
  return values
}

/** A trainable variable from values in PyTorch layout (the inits build state_dict-shaped values). */
export function trainableFromTorch(name: string, shape: number[], values: Float32Array): tf.Variable {
  const initial = torchToTf({dtype: 'F32', shape, data: values}, kindOf(shape, name))
  const v = tf.variable(initial, true)
  initial.dispose()
  return v
}

/** Exports a parameter map to a state_dict (PyTorch layout), for safetensors. */
export async function exportParams(
  params: Map<string, tf.Tensor>,
  kinds: (name: string, t: tf.Tensor) => ParamKind
): Promise<TensorMap> {
  const out: TensorMap = new Map()
  for (const [name, t] of params) out.set(name, await tfToTorch(t, kinds(name, t)))
  return out
}

export function disposeParams(params: Map<string, tf.Tensor>): void {
  for (const t of params.values()) t.dispose()
}
