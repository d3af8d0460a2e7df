// geluTanh (src/models/activations.ts) is written as x·sigmoid(2u) with a hand-written gradient;
// both must match the textbook tanh form and its autodiff gradient.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {geluTanh} from '../../src/models/activations.js'

function tanhForm(x: tf.Tensor): tf.Tensor {
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))
  return x.mul(0.5).mul(tf.tanh(inner).add(1))
}

describe('geluTanh', () => {
  before(async () => {
    await useTestBackend()
  })

  it('equals 0.5·x·(1 + tanh(sqrt(2/pi)(x + 0.044715x³))) and its gradient on [-6, 6]', () => {
    const x = tf.linspace(-6, 6, 1001)
    const value = tf.max(tf.abs(geluTanh(x).sub(tanhForm(x)))).dataSync()[0]
    const ours = tf.grad(t => geluTanh(t).sum())(x)
    const want = tf.grad(t => tanhForm(t).sum())(x)
    const grad = tf.max(tf.abs(ours.sub(want))).dataSync()[0]
    expect(value).to.be.below(1e-5)
    expect(grad).to.be.below(1e-5)
    // the gradient is not trivially 1 or 0 everywhere: GELU dips below zero near x = -0.75
    expect(ours.min().dataSync()[0]).to.be.below(-0.1)
    tf.dispose([x, ours, want])
  })
})
