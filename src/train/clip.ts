// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (max_norm, eps 1e-6).
import * as tf from '@tensorflow/tfjs'
import {wasmHeapViews} from '../backend/wasm-heap.js'

/**
 * sqrt of the sum of every gradient's squares. On wasm one JS loop over the heap in float64 (two
 * kernels per parameter and an AddN otherwise, ~120 calls per step of the demo's DiT; issue 20);
 * the kernels sum in float32, so the two agree to float32 rounding.
 */
export function globalNorm(grads: Map<string, tf.Tensor>): number {
  const views = wasmHeapViews([...grads.values()], [])
  if (views) {
    let sum = 0
    for (const g of views.read) for (let i = 0; i < g.length; i++) sum += g[i] * g[i]
    return Math.sqrt(sum)
  }
  return tf.tidy(() => {
    const squares = [...grads.values()].map(g => g.square().sum())
    return squares.length ? Math.sqrt((tf.addN(squares).dataSync() as Float32Array)[0]) : 0
  })
}

/**
 * The factor clip_grad_norm_ multiplies every gradient by (1 when the norm is within maxNorm), and
 * the norm before clipping. AdamW.applyGradients takes it as its gradScale.
 */
export function clipCoefficient(grads: Map<string, tf.Tensor>, maxNorm: number): {coef: number; norm: number} {
  const norm = globalNorm(grads)
  const coef = maxNorm / (norm + 1e-6)
  return {coef: coef < 1 ? coef : 1, norm}
}
