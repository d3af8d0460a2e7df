// The denoising objective (docs/REFERENCE.md §5.4): MSE between the predicted and the true noise,
// on the first C output channels of a learned-sigma model (the variance head is not trained,
// exactly as in the authors' code), mean over all elements, float32.
import * as tf from '@tensorflow/tfjs'

/** Splits a model output [B,H,W,outC] into its epsilon part (first `channels`) . */
export function epsilonPart(output: tf.Tensor4D, channels: number): tf.Tensor4D {
  return output.shape[3] === channels ? output : output.slice([0, 0, 0, 0], [-1, -1, -1, channels])
}

export function epsilonMse(output: tf.Tensor4D, noise: tf.Tensor4D): tf.Scalar {
  return tf.mean(tf.squaredDifference(epsilonPart(output, noise.shape[3]), noise)) as tf.Scalar
}
