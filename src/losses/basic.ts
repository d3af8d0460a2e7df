// General losses shared by training stages. Each returns a scalar tensor and is differentiable.
import * as tf from '@tensorflow/tfjs'

/** Mean absolute error over all elements (torch F.l1_loss, reduction 'mean'). */
export function l1Loss(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.mean(tf.abs(a.sub(b))) as tf.Scalar
}

/**
 * KL(N(mu, exp(logvar)) || N(0, I)): -0.5 * sum_j (1 + logvar - mu^2 - exp(logvar)) per sample,
 * averaged over the batch (docs/REFERENCE.md §3.4).
 */
export function gaussianKl(mu: tf.Tensor2D, logvar: tf.Tensor2D): tf.Scalar {
  const perSample = tf.sum(tf.scalar(1).add(logvar).sub(mu.square()).sub(tf.exp(logvar)), 1).mul(-0.5)
  return tf.mean(perSample) as tf.Scalar
}
