// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (max_norm, eps 1e-6).
import * as tf from '@tensorflow/tfjs'

export function globalNorm(grads: Map<string, tf.Tensor>): number {
  return tf.tidy(() => {
    const squares = [...grads.values()].map(g => g.square().sum())
    return squares.length ? Math.sqrt((tf.addN(squares).dataSync() as Float32Array)[0]) : 0
  })
}

/** Returns clipped gradients (new tensors; the inputs are disposed when clipped) and the norm before clipping. */
export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number
): {grads: Map<string, tf.Tensor>; norm: number} {
  const norm = globalNorm(grads)
  const coef = maxNorm / (norm + 1e-6)
  if (!(coef < 1)) return {grads, norm}
  const out = new Map<string, tf.Tensor>()
  for (const [name, g] of grads) {
    out.set(name, g.mul(coef))
    g.dispose()
  }
  return {grads: out, norm}
}
