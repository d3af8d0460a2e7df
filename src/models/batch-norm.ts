// Training-mode BatchNorm (batch statistics, biased variance, as PyTorch) with a closed-form
// gradient. tf.batchNorm's own gradient tiles the per-channel terms to the input's full shape:
// on wasm those Tile kernels took 1.6 s of a 4.8 s SDNet step (sdnet-small, batch 16); this
// gradient uses only per-channel sums. With xhat = (x - mean) * invStd over N = B*H*W values:
//   dbeta = sum(dy), dgamma = sum(dy * xhat), dx = gamma * invStd * (dy - dbeta/N - xhat * dgamma/N)
// which already includes the paths through mean and variance, so those are computed untaped.
// With relu, dy is first masked by the output's sign (relu(bn(x)) is one op).
import * as tf from '@tensorflow/tfjs'

export interface TrainBatchNormResult {
  y: tf.Tensor
  mean: tf.Tensor
  variance: tf.Tensor
}

/**
 * Normalises x over every axis but the last and returns the output plus the batch mean and
 * biased variance. Those two are not differentiated and are kept out of any tidy scope: the
 * caller owns them (folds them into running statistics, then disposes them).
 */
export function trainBatchNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  opts: {relu?: boolean} = {}
): TrainBatchNormResult {
  const axes = x.shape.slice(0, -1).map((_, i) => i)
  let mean!: tf.Tensor
  let variance!: tf.Tensor
  const op = tf.customGrad(((input: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: (t: tf.Tensor[]) => void) => {
    const m = tf.moments(input, axes)
    // customGrad disposes a forward's intermediates; keep the statistics for the caller
    mean = tf.keep(m.mean)
    variance = tf.keep(m.variance)
    // relu: fused here so the pre-activation tensor is not held for the backward pass (at
    // 224 px the held activations decide whether a training step fits in wasm's 4 GB)
    const normed = tf.batchNorm(input, mean, variance, b, g, eps)
    const value = opts.relu ? tf.relu(normed) : normed
    save(opts.relu ? [input, mean, variance, g, value] : [input, mean, variance, g])
    return {
      value,
      gradFunc: (dyOut: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sMean, sVar, sGamma, sOut] = saved
        const dy = opts.relu ? dyOut.mul(tf.step(sOut)) : dyOut
        const n = sx.size / sx.shape[sx.shape.length - 1]
        const invStd = tf.rsqrt(sVar.add(eps))
        const xhat = sx.sub(sMean).mul(invStd)
        const dBeta = dy.sum(axes)
        const dGamma = dy.mul(xhat).sum(axes)
        const dx = dy
          .sub(dBeta.div(n))
          .sub(xhat.mul(dGamma.div(n)))
          .mul(sGamma.mul(invStd))
        return [dx, dGamma, dBeta]
      }
    }
  }) as never) as (input: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor
  const y = op(x, gamma, beta)
  return {y, mean, variance}
}
