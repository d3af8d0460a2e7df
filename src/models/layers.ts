// The small layers the PixArt transformer, the HFFM conditioner and the VAE share: Linear (with
// an optional LoRA branch), LayerNorm with and without affine parameters, the GELU variants and
// SiLU. Weights are looked up by their diffusers state_dict names in tfjs layout (Linear
// [in,out], Conv HWIO).
import * as tf from '@tensorflow/tfjs'
import type {LoraSet} from './lora.js'
import {normalizeLastAxis} from './normalize.js'

/** Parameters of one model plus the LoRA adapters applied on top of it (unmerged). */
export interface Weights {
  params: Map<string, tf.Tensor>
  lora?: LoraSet | null
}

export function param(w: Weights, name: string): tf.Tensor {
  const t = w.params.get(name)
  if (!t) throw new Error(`missing parameter ${name}`)
  return t
}

/** x[..., in] @ W[in, out] + b, any leading shape. */
export function dense(x: tf.Tensor, W: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inner = x.shape[x.shape.length - 1]
  const lead = x.shape.slice(0, -1)
  const W2 = W.rank === 2 ? (W as tf.Tensor2D) : (W.reshape([-1, W.shape[W.rank - 1]]) as tf.Tensor2D)
  // transposed products in the backward pass run on XNNPACK too (src/backend/wasm-matmul.ts)
  let y: tf.Tensor = tf.matMul(x.reshape([-1, inner]) as tf.Tensor2D, W2)
  if (b) y = y.add(b)
  return y.reshape([...lead, W2.shape[1]])
}

/**
 * nn.Linear `path` applied to x, plus scale * B(A(x)) when an adapter targets it (peft LoRA
 * Linear forward with dropout 0, docs/REFERENCE.md §5.3). Conv adapters (the patch embedding) are
 * applied on patchified input, where a kernel-p stride-p convolution is exactly this matmul.
 */
export function linear(w: Weights, path: string, x: tf.Tensor): tf.Tensor {
  let y = dense(x, param(w, `${path}.weight`), w.params.get(`${path}.bias`))
  const adapter = w.lora?.adapters.get(path)
  if (adapter && w.lora!.scale !== 0) {
    y = y.add(dense(dense(x, adapter.A), adapter.B).mul(w.lora!.scale))
  }
  return y
}

/** LayerNorm over the last axis without affine parameters (PixArt: elementwise_affine false). */
export function layerNorm(x: tf.Tensor, eps: number): tf.Tensor {
  return normalizeLastAxis(x, eps)
}

/** LayerNorm with affine weight and bias (HFFM). */
export function layerNormAffine(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  return layerNorm(x, eps).mul(weight).add(bias)
}

export {geluTanh} from './activations.js'

/** GELU, exact erf form (HFFM, docs/REFERENCE.md §5.2). */
export function geluExact(x: tf.Tensor): tf.Tensor {
  return x.mul(0.5).mul(tf.erf(x.mul(Math.SQRT1_2)).add(1))
}

export function silu(x: tf.Tensor): tf.Tensor {
  return x.mul(tf.sigmoid(x))
}
