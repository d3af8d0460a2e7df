// Colour-distribution loss (paper §2.3, docs/REFERENCE.md §5.5). The authors compute it on an
// image sampled under no-grad, so it never trains anything; here it is computed on the clean
// image predicted at the training step, x0_hat = (x_t - sqrt(1-acp) eps_hat) / sqrt(acp), and
// is differentiable (deliberate fix). Per image: mean over channels of (mu_c(x) - mu_c(y))^2
// plus mean over channels of (var_c(x) - var_c(y))^2, with the unbiased (N-1) variance over
// H*W; the paper says "mean and variance" (the authors' code used the std) — we follow the paper.
import * as tf from '@tensorflow/tfjs'

/** Per-image, per-channel mean and unbiased variance of [B,H,W,C] -> two [B,C] tensors. */
export function channelStats(x: tf.Tensor4D): {mean: tf.Tensor2D; variance: tf.Tensor2D} {
  const n = x.shape[1] * x.shape[2]
  const {mean, variance} = tf.moments(x, [1, 2])
  return {mean: mean as tf.Tensor2D, variance: variance.mul(n / Math.max(1, n - 1)) as tf.Tensor2D}
}

/** Mean over the batch of the per-image colour-statistics distance. */
export function colourLoss(predicted: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  const p = channelStats(predicted)
  const t = channelStats(target)
  const perImage = tf
    .mean(tf.squaredDifference(p.mean, t.mean), 1)
    .add(tf.mean(tf.squaredDifference(p.variance, t.variance), 1))
  return tf.mean(perImage) as tf.Scalar
}
