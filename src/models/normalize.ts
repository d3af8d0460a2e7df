// Normalisation without affine parameters, shared by LayerNorm (PixArt, HFFM, BERT) and GroupNorm
// (the VAE): x viewed as [n, s, g, k] is normalised per (n, g) over its s*k elements. On wasm it
// is one fused kernel with a fused gradient (src/backend/wasm-normalize.ts, issue 20); on the
// other backends the tfjs ops below, whose native kernels are already fused enough.
import * as tf from '@tensorflow/tfjs'
import {NORMALIZE, NORMALIZE_GRAD, fusedNormalizeAvailable, type NormalizeAttrs} from '../backend/wasm-normalize.js'

function composed(x: tf.Tensor, a: NormalizeAttrs): tf.Tensor {
  const grouped = x.reshape([a.n, a.s, a.g, a.k])
  const {mean, variance} = tf.moments(grouped, a.s === 1 ? [3] : [1, 3], true)
  return grouped
    .sub(mean)
    .mul(tf.rsqrt(variance.add(a.eps)))
    .reshape(x.shape)
}

function fused(x: tf.Tensor, a: NormalizeAttrs): tf.Tensor {
  const attrs = a as unknown as tf.NamedAttrMap
  const op = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, rstd] = tf.engine().runKernel(NORMALIZE, {x: input}, attrs) as tf.Tensor[]
    save([y, rstd])
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(NORMALIZE_GRAD, {dy, y: saved[0], rstd: saved[1]}, attrs) as tf.Tensor
    }
  }) as never) as (input: tf.Tensor) => tf.Tensor
  return op(x)
}

/** (x - mean) / sqrt(var + eps), statistics per (n, g) of x viewed as [n, s, g, k]. */
export function normalizeGroups(x: tf.Tensor, a: NormalizeAttrs): tf.Tensor {
  if (x.size !== a.n * a.s * a.g * a.k) throw new Error(`normalize: [${x.shape}] is not [${a.n},${a.s},${a.g},${a.k}]`)
  return x.dtype === 'float32' && fusedNormalizeAvailable() ? fused(x, a) : composed(x, a)
}

/** LayerNorm over the last axis, no affine parameters. */
export function normalizeLastAxis(x: tf.Tensor, eps: number): tf.Tensor {
  const d = x.shape[x.rank - 1]
  return normalizeGroups(x, {n: x.size / d, s: 1, g: 1, k: d, eps})
}
