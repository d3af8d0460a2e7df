// The gradient-name mapping every trainer needs: tf.variableGrads keys gradients by tf's
// variable name ("Variable_12"), while AdamW, clipping, checkpoints and safetensors files use the
// parameters' PyTorch names (docs/DEVELOPING.md "param maps with PyTorch names").
import type * as tf from '@tensorflow/tfjs'

/**
 * Gradients of `grads` renamed to the PyTorch names of `params`, in the order tf returned them
 * (clipping sums squares in that order). Entries that are not parameters (an extra value kept in
 * the same map, a helper variable) are left out for the caller to use or dispose.
 */
export function gradientsByParamName(
  params: Map<string, tf.Variable>,
  grads: tf.NamedTensorMap
): Map<string, tf.Tensor> {
  const nameOf = new Map<string, string>()
  for (const [name, v] of params) nameOf.set(v.name, name)
  const out = new Map<string, tf.Tensor>()
  for (const [varName, g] of Object.entries(grads)) {
    const name = nameOf.get(varName)
    if (name !== undefined) out.set(name, g)
  }
  return out
}
