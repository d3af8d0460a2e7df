import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {compareArrays} from '../helpers/tmp.js'
import {conv2dFast} from '../../src/models/sdnet/fast-conv.js'
import {Rng} from '../../src/util/rng.js'

describe('visual: conv2dFast gradients', () => {
  before(async () => {
    await useTestBackend()
  })

  for (const [k, stride, h, w] of [
    [3, 1, 6, 5],
    [1, 1, 6, 5],
    [3, 2, 8, 8],
    [3, 2, 7, 6]
  ]) {
    it(`matches tf.conv2d value and gradients: ${k}x${k} kernel, stride ${stride}, ${h}x${w} input`, () => {
      const rng = new Rng(3)
      const x = tf.tensor4d(rng.normalArray(2 * h * w * 3), [2, h, w, 3])
      const wt = tf.tensor4d(rng.normalArray(k * k * 3 * 4), [k, k, 3, 4])
      const pad = (k - 1) / 2
      const ref0 = tf.conv2d(x, wt, stride, [
        [0, 0],
        [pad, pad],
        [pad, pad],
        [0, 0]
      ])
      const probe = tf.tensor4d(rng.normalArray(ref0.size), ref0.shape)
      const ref = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf
          .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0]
          ])
          .mul(probe)
          .sum()
      )([x, wt])
      const ours = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        conv2dFast(a as tf.Tensor4D, b as tf.Tensor4D, stride)
          .mul(probe)
          .sum()
      )([x, wt])
      expect(compareArrays(conv2dFast(x, wt, stride).dataSync(), ref0.dataSync(), 1e-4, 1e-4).ok).to.equal(true)
      for (let i = 0; i < 2; i++) {
        const c = compareArrays(ours[i].dataSync(), ref[i].dataSync(), 1e-4, 1e-4)
        expect(c.ok, `gradient ${i} max abs diff ${c.maxAbs}`).to.equal(true)
      }
    })
  }

  it('fused bias: value and the bias gradient equal conv + add (3x3, stride 2)', () => {
    const rng = new Rng(5)
    const x = tf.tensor4d(rng.normalArray(2 * 7 * 6 * 3), [2, 7, 6, 3])
    const wt = tf.tensor4d(rng.normalArray(9 * 3 * 4), [3, 3, 3, 4])
    const bias = tf.tensor1d(rng.normalArray(4))
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0]
    ]
    const ref0 = tf.conv2d(x, wt, 2, pad).add(bias)
    const probe = tf.tensor4d(rng.normalArray(ref0.size), ref0.shape as [number, number, number, number])
    const ref = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf
        .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, pad)
        .add(c)
        .mul(probe)
        .sum()
    )([x, wt, bias])
    const ours = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      conv2dFast(a as tf.Tensor4D, b as tf.Tensor4D, 2, c)
        .mul(probe)
        .sum()
    )([x, wt, bias])
    expect(compareArrays(conv2dFast(x, wt, 2, bias).dataSync(), ref0.dataSync(), 1e-4, 1e-4).ok).to.equal(true)
    for (let i = 0; i < 3; i++) {
      const c = compareArrays(ours[i].dataSync(), ref[i].dataSync(), 1e-4, 1e-4)
      expect(c.ok, `gradient ${['x', 'w', 'bias'][i]} max abs diff ${c.maxAbs}`).to.equal(true)
    }
  })
})
