// ResNet-18 (He et al. 2016) preset for real datasets, with torchvision's parameter names
// (conv1, bn1, layer{1..4}.{0,1}.conv{1,2}/bn{1,2}, layer{2..4}.0.downsample.{0,1}, fc), so a
// torchvision checkpoint's names line up. BatchNorm eps 1e-5, momentum 0.1; the 512-d pooled
// output is the penultimate feature for dfd.
import * as tf from '@tensorflow/tfjs'
import {trainBatchNorm} from '../batch-norm.js'
import type {BufferShape, ClassifierNet, ParamLookup, ParamShape} from './types.js'

const stages = [64, 128, 256, 512]
const bnEps = 1e-5
const momentum = 0.1

interface ConvDef {
  name: string
  k: number
  inCh: number
  outCh: number
  bn: string
}

function convDefs(): ConvDef[] {
  const out: ConvDef[] = [{name: 'conv1', k: 7, inCh: 3, outCh: 64, bn: 'bn1'}]
  let inCh = 64
  stages.forEach((w, s) => {
    for (let b = 0; b < 2; b++) {
      const pre = `layer${s + 1}.${b}`
      out.push(
        {name: `${pre}.conv1`, k: 3, inCh, outCh: w, bn: `${pre}.bn1`},
        {name: `${pre}.conv2`, k: 3, inCh: w, outCh: w, bn: `${pre}.bn2`}
      )
      if (b === 0 && s > 0) out.push({name: `${pre}.downsample.0`, k: 1, inCh, outCh: w, bn: `${pre}.downsample.1`})
      inCh = w
    }
  })
  return out
}

export function resnet18Shapes(numClasses: number): ParamShape[] {
  const out: ParamShape[] = []
  for (const c of convDefs()) {
    out.push({name: `${c.name}.weight`, shape: [c.k, c.k, c.inCh, c.outCh], fanIn: c.k * c.k * c.inCh, kind: 'conv'})
    out.push(
      {name: `${c.bn}.weight`, shape: [c.outCh], fanIn: 1, kind: 'bn-weight'},
      {name: `${c.bn}.bias`, shape: [c.outCh], fanIn: 1, kind: 'bn-bias'}
    )
  }
  out.push(
    {name: 'fc.weight', shape: [512, numClasses], fanIn: 512, kind: 'linear'},
    {name: 'fc.bias', shape: [numClasses], fanIn: 512, kind: 'bias'}
  )
  return out
}

function resnetBuffers(): BufferShape[] {
  return convDefs().flatMap(c => [
    {name: `${c.bn}.running_mean`, shape: [c.outCh], init: 0 as const},
    {name: `${c.bn}.running_var`, shape: [c.outCh], init: 1 as const}
  ])
}

function convBn(
  p: ParamLookup,
  x: tf.Tensor4D,
  c: ConvDef,
  stride: number,
  training: boolean,
  updates: Map<string, tf.Tensor>
): tf.Tensor4D {
  const pad = (c.k - 1) / 2
  const padded =
    pad > 0
      ? tf.pad(x, [
          [0, 0],
          [pad, pad],
          [pad, pad],
          [0, 0]
        ])
      : x
  const y = tf.conv2d(padded, p(`${c.name}.weight`) as tf.Tensor4D, stride, 'valid')
  if (training) {
    const {y: normed, mean, variance} = trainBatchNorm(y, p(`${c.bn}.weight`), p(`${c.bn}.bias`), bnEps)
    const n = y.shape[0] * y.shape[1] * y.shape[2]
    // torch updates running_var with the unbiased batch variance.
    const unbiased = variance.mul(n / Math.max(1, n - 1))
    updates.set(
      `${c.bn}.running_mean`,
      p(`${c.bn}.running_mean`)
        .mul(1 - momentum)
        .add(mean.mul(momentum))
    )
    updates.set(
      `${c.bn}.running_var`,
      p(`${c.bn}.running_var`)
        .mul(1 - momentum)
        .add(unbiased.mul(momentum))
    )
    tf.dispose([mean, variance])
    return normed as tf.Tensor4D
  }
  return tf.batchNorm(
    y,
    p(`${c.bn}.running_mean`),
    p(`${c.bn}.running_var`),
    p(`${c.bn}.bias`),
    p(`${c.bn}.weight`),
    bnEps
  ) as tf.Tensor4D
}

export const resnet18: ClassifierNet = {
  featureDim: 512,
  shapes: resnet18Shapes,
  buffers: resnetBuffers,
  forward(p, x, training) {
    const defs = new Map(convDefs().map(c => [c.name, c]))
    const updates = new Map<string, tf.Tensor>()
    let h = tf.relu(convBn(p, x, defs.get('conv1')!, 2, training, updates)) as tf.Tensor4D
    h = tf.maxPool(
      tf.pad(
        h,
        [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0]
        ],
        -1e30
      ),
      3,
      2,
      'valid'
    ) // torch pads max pools with -inf
    stages.forEach((_, s) => {
      for (let b = 0; b < 2; b++) {
        const pre = `layer${s + 1}.${b}`
        const stride = b === 0 && s > 0 ? 2 : 1
        const out1 = tf.relu(convBn(p, h, defs.get(`${pre}.conv1`)!, stride, training, updates)) as tf.Tensor4D
        const out2 = convBn(p, out1, defs.get(`${pre}.conv2`)!, 1, training, updates)
        const shortcut = defs.has(`${pre}.downsample.0`)
          ? convBn(p, h, defs.get(`${pre}.downsample.0`)!, stride, training, updates)
          : h
        h = tf.relu(out2.add(shortcut)) as tf.Tensor4D
      }
    })
    const features = h.mean([1, 2]) as tf.Tensor2D
    const logits = features.matMul(p('fc.weight') as tf.Tensor2D).add(p('fc.bias')) as tf.Tensor2D
    return {logits, features, bufferUpdates: training ? updates : undefined}
  }
}
