// The embedded default's classifier (issue 10): three 3x3 conv stages (32, 64, 128 channels,
// ReLU, 2x2 max pool after the first two), global average pool -> the 128-d penultimate
// features `eval --metric dfd` uses, then a linear head. No normalisation layers, so train and
// eval behave the same on tiny data. Names follow an nn.Module with conv1..3 and fc.
import * as tf from '@tensorflow/tfjs'
import type {ClassifierNet, ParamShape} from './types.js'

const widths = [32, 64, 128]

export function smallCnnShapes(numClasses: number): ParamShape[] {
  const out: ParamShape[] = []
  let inCh = 3
  widths.forEach((w, i) => {
    out.push(
      {name: `conv${i + 1}.weight`, shape: [3, 3, inCh, w], fanIn: 9 * inCh, kind: 'conv'},
      {name: `conv${i + 1}.bias`, shape: [w], fanIn: 9 * inCh, kind: 'bias'}
    )
    inCh = w
  })
  out.push(
    {name: 'fc.weight', shape: [inCh, numClasses], fanIn: inCh, kind: 'linear'},
    {name: 'fc.bias', shape: [numClasses], fanIn: inCh, kind: 'bias'}
  )
  return out
}

export const smallCnn: ClassifierNet = {
  featureDim: widths[widths.length - 1],
  shapes: smallCnnShapes,
  buffers: () => [],
  forward(p, x) {
    let h: tf.Tensor4D = x
    widths.forEach((_, i) => {
      h = tf.relu(
        tf.conv2d(h, p(`conv${i + 1}.weight`) as tf.Tensor4D, 1, 'same').add(p(`conv${i + 1}.bias`))
      ) as tf.Tensor4D
      if (i < widths.length - 1) h = tf.maxPool(h, 2, 2, 'valid')
    })
    const features = h.mean([1, 2]) as tf.Tensor2D
    const logits = features.matMul(p('fc.weight') as tf.Tensor2D).add(p('fc.bias')) as tf.Tensor2D
    return {logits, features}
  }
}
