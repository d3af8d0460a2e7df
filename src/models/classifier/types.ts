// What the classify stage needs from a classifier architecture: its parameter names and tfjs
// shapes (HWIO convs, [in,out] linears), running-statistics buffers, and a forward pass that
// returns logits and the penultimate features (exposed for eval's dfd).
import type * as tf from '@tensorflow/tfjs'

export interface ParamShape {
  name: string
  /** tfjs layout */
  shape: number[]
  fanIn: number
  kind: 'conv' | 'linear' | 'bias' | 'bn-weight' | 'bn-bias'
}

export interface BufferShape {
  name: string
  shape: number[]
  init: 0 | 1
}

/** Looks a parameter or buffer up by its PyTorch name. */
export type ParamLookup = (name: string) => tf.Tensor

export interface ClassifierNet {
  featureDim: number
  shapes(numClasses: number): ParamShape[]
  buffers(): BufferShape[]
  /**
   * training = true uses batch statistics in BatchNorm and returns the updated running
   * statistics in `bufferUpdates` (momentum 0.1, as torch); the caller assigns them.
   */
  forward(
    p: ParamLookup,
    x: tf.Tensor4D,
    training: boolean
  ): {logits: tf.Tensor2D; features: tf.Tensor2D; bufferUpdates?: Map<string, tf.Tensor>}
}
