// The closed-form training BatchNorm gradient (src/models/batch-norm.ts) against tfjs's own
// autodiff of moments + batchNorm, for NHWC and [B, C] inputs, and the statistics it returns.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {trainBatchNorm} from '../../src/models/batch-norm.js'
import {Rng} from '../../src/util/rng.js'

function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i)
  const {mean, variance} = tf.moments(x, axes)
  return tf.batchNorm(x, mean, variance, beta, gamma, eps)
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0])
}

describe('trainBatchNorm (closed-form gradient)', () => {
  before(async () => {
    await useTestBackend()
  })

  for (const shape of [
    [4, 6, 5, 3],
    [7, 5]
  ]) {
    it(`matches autodiff of moments + batchNorm for shape [${shape}]`, () => {
      const rng = new Rng(3)
      const c = shape[shape.length - 1]
      const size = shape.reduce((a, b) => a * b, 1)
      const x = tf.tensor(rng.normalArray(size, 2), shape).add(0.7)
      const gamma = tf.tensor(rng.normalArray(c, 1), [c])
      const beta = tf.tensor(rng.normalArray(c, 1), [c])
      const proj = tf.tensor(rng.normalArray(size, 1), shape)
      const before = tf.memory().numTensors
      const ours = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const {y, mean, variance} = trainBatchNorm(a, g, b, 1e-5)
        tf.dispose([mean, variance])
        return tf.sum(tf.mul(tf.square(y), proj))
      })([x, gamma, beta])
      expect(tf.memory().numTensors - before, 'tensors left besides the three gradients').to.equal(3)
      const theirs = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.square(reference(a, g, b, 1e-5)), proj))
      )([x, gamma, beta])
      for (let i = 0; i < 3; i++) {
        const scale = tf.tidy(() => tf.max(tf.abs(theirs[i])).dataSync()[0])
        expect(scale, 'reference gradient is not zero').to.be.greaterThan(0)
        expect(maxDiff(ours[i], theirs[i]) / scale, `gradient ${['x', 'gamma', 'beta'][i]} (relative)`).to.be.below(
          1e-4
        )
      }
      const {y, mean, variance} = trainBatchNorm(x, gamma, beta, 1e-5)
      expect(maxDiff(y, reference(x, gamma, beta, 1e-5))).to.be.below(1e-5)
      const m = tf.moments(
        x,
        shape.slice(0, -1).map((_, i) => i)
      )
      expect(maxDiff(mean, m.mean)).to.be.below(1e-5)
      expect(maxDiff(variance, m.variance)).to.be.below(1e-4)
      tf.dispose([x, gamma, beta, proj, y, mean, variance, m.mean, m.variance, ...ours, ...theirs])
    })
  }

  it('relu option: equals autodiff of relu(moments + batchNorm)', () => {
    const rng = new Rng(4)
    const shape = [3, 5, 4, 6]
    const size = shape.reduce((a, b) => a * b, 1)
    const x = tf.tensor(rng.normalArray(size, 1.5), shape)
    const gamma = tf.tensor(rng.normalArray(6, 1), [6])
    const beta = tf.tensor(rng.normalArray(6, 1), [6])
    const proj = tf.tensor(rng.normalArray(size, 1), shape)
    const ours = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const {y, mean, variance} = trainBatchNorm(a, g, b, 1e-5, {relu: true})
      tf.dispose([mean, variance])
      return tf.sum(tf.mul(y, proj))
    })([x, gamma, beta])
    const theirs = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.relu(reference(a, g, b, 1e-5)), proj))
    )([x, gamma, beta])
    for (let i = 0; i < 3; i++) {
      const scale = tf.tidy(() => tf.max(tf.abs(theirs[i])).dataSync()[0])
      expect(maxDiff(ours[i], theirs[i]) / scale, `gradient ${['x', 'gamma', 'beta'][i]} (relative)`).to.be.below(1e-4)
    }
    const {y, mean, variance} = trainBatchNorm(x, gamma, beta, 1e-5, {relu: true})
    expect(y.min().dataSync()[0]).to.equal(0)
    expect(maxDiff(y, tf.relu(reference(x, gamma, beta, 1e-5)))).to.be.below(1e-5)
    tf.dispose([x, gamma, beta, proj, y, mean, variance, ...ours, ...theirs])
  })
})
