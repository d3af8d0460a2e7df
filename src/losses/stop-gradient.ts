// torch's .detach(): identity in the forward pass, no gradient (tfjs has no stopGradient op).
import * as tf from '@tensorflow/tfjs'

export const stopGradient: <T extends tf.Tensor>(x: T) => T = tf.customGrad(((
  x: tf.Tensor,
  save: (t: tf.Tensor[]) => void
) => {
  save([])
  return {value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy)}
}) as never) as never
