// Building blocks shared by BERT and DistilBERT (docs/REFERENCE.md §4.1, §10): Linear on [B,L,in]
// with tfjs-layout weights [in,out], affine LayerNorm, exact-erf GELU, and multi-head
// self-attention with an additive key mask.
import * as tf from '@tensorflow/tfjs'
import {geluTanh} from '../activations.js'
import {normalizeLastAxis} from '../normalize.js'

export type Weights = Map<string, tf.Tensor>

/** torch.finfo(float32).min, what transformers adds to the scores of padded keys */
export const MASK_VALUE = -3.4028234663852886e38

export function param(weights: Weights, name: string): tf.Tensor {
  const t = weights.get(name)
  if (!t) throw new Error(`parameter ${name} not loaded`)
  return t
}

/** y = x W + b for x [..., in] and W [in, out] */
export function linear(weights: Weights, prefix: string, x: tf.Tensor): tf.Tensor {
  const w = param(weights, `${prefix}.weight`) as tf.Tensor2D
  const b = weights.get(`${prefix}.bias`)
  const lead = x.shape.slice(0, -1)
  const flat = x.reshape([-1, x.shape[x.shape.length - 1]]) as tf.Tensor2D
  const y = tf.matMul(flat, w)
  const withBias = b ? y.add(b) : y
  return withBias.reshape([...lead, w.shape[1]])
}

export function layerNorm(weights: Weights, prefix: string, x: tf.Tensor, eps: number): tf.Tensor {
  return normalizeLastAxis(x, eps)
    .mul(param(weights, `${prefix}.weight`))
    .add(param(weights, `${prefix}.bias`))
}

/** hidden_act "gelu" in transformers is the exact erf form (not gelu_new/tanh). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return x.mul(0.5).mul(tf.erf(x.mul(Math.SQRT1_2)).add(1))
}

export function activation(name: string, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu':
      return gelu(x)
    case 'relu':
      return tf.relu(x)
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return geluTanh(x)
    default:
      throw new Error(`unsupported activation ${name}`)
  }
}

/** (1 - mask) * finfo.min as [B,1,1,L], added to the attention scores of every head and query. */
export function additiveMask(attentionMask: tf.Tensor2D): tf.Tensor4D {
  const [b, l] = attentionMask.shape
  return tf.scalar(1).sub(attentionMask.toFloat()).mul(MASK_VALUE).reshape([b, 1, 1, l])
}

/**
 * softmax(q k^T / sqrt(d) + mask) v over heads; q,k,v are [B,L,H] already projected.
 * Returns the merged context [B,L,H] and the attention probabilities [B,heads,L,L].
 */
export function attend(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  heads: number,
  mask: tf.Tensor4D
): {context: tf.Tensor3D; probs: tf.Tensor4D} {
  const [b, l, h] = q.shape
  const d = h / heads
  const split = (t: tf.Tensor) => t.reshape([b, l, heads, d]).transpose([0, 2, 1, 3]) as tf.Tensor4D
  const scores = tf.matMul(split(q), split(k), false, true).div(Math.sqrt(d)).add(mask)
  const probs = tf.softmax(scores) as tf.Tensor4D
  const context = tf.matMul(probs, split(v)).transpose([0, 2, 1, 3]).reshape([b, l, h]) as tf.Tensor3D
  return {context, probs}
}

/** sum_t h[b,t] mask[b,t] / max(sum_t mask[b,t], 1e-9): the authors' sentence embedding (docs/REFERENCE.md §4.1) */
export function meanPool(hidden: tf.Tensor3D, attentionMask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const m = attentionMask.toFloat().expandDims(2)
    return hidden.mul(m).sum(1).div(m.sum(1).maximum(1e-9)) as tf.Tensor2D
  })
}
