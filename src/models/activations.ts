// Activations shared by model families (PixArt, BERT), written in the kernels wasm runs fast.
import * as tf from '@tensorflow/tfjs'

const TWO_SQRT_2_OVER_PI = 2 * Math.sqrt(2 / Math.PI)

const GELU_CUBIC = 0.044715

/**
 * GELU, tanh approximation (PixArt FFN and caption projection, docs/REFERENCE.md §10):
 * 0.5·x·(1 + tanh(u)) with u = sqrt(2/pi)·(x + 0.044715·x³), written as x·sigmoid(2u), the same
 * function (0.5·(1 + tanh(u)) = sigmoid(2u)). On wasm, Pow and Tanh are scalar loops and Sigmoid
 * is XNNPACK's: 11.0 ms -> 1.8 ms for [8,64,512], outputs within 3e-7 of the tanh form.
 * The gradient is written out and recomputed from x, so the tape keeps one tensor per call
 * instead of the five intermediates of the composed form (the FFN's [b,n,4d] activations are the
 * largest tensors of a PixArt step).
 */
export const geluTanh = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x])
  return {
    value: tf.tidy(() => x.mul(tf.sigmoid(geluArgument(x)))),
    // d/dx x·s(2u) = s + x·s·(1 - s)·2u',  2u' = 2·sqrt(2/pi)·(1 + 3·0.044715·x²)
    gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
      tf.tidy(() => {
        const s = tf.sigmoid(geluArgument(saved))
        const slope = saved
          .square()
          .mul(3 * GELU_CUBIC)
          .add(1)
          .mul(TWO_SQRT_2_OVER_PI)
        return dy.mul(s.add(saved.mul(s).mul(tf.scalar(1).sub(s)).mul(slope)))
      })
  }
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor

/** 2u = 2·sqrt(2/pi)·(x + 0.044715·x³) */
function geluArgument(x: tf.Tensor): tf.Tensor {
  return x.add(x.square().mul(x).mul(GELU_CUBIC)).mul(TWO_SQRT_2_OVER_PI)
}
