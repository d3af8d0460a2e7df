// Gradients on the wasm backend (with medgen's added kernels) against the pure-JS cpu backend,
// for the conv-net pieces training uses: conv2d, depthwise conv, max pool, nearest upsample,
// batch-norm statistics, erf-GELU, softmax, layer norm, embedding gather (issue 2, item 5).
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {Rng} from '../../src/util/rng.js'
import {registerCpuKernelFixes} from '../../src/backend/wasm-kernels.js'

type Arrays = Record<string, {shape: number[]; data: Float32Array}>
type LossFn = (t: Record<string, tf.Tensor>) => tf.Scalar

function randomArrays(seed: number, shapes: Record<string, number[]>): Arrays {
  const rng = new Rng(seed)
  const out: Arrays = {}
  for (const [name, shape] of Object.entries(shapes))
    out[name] = {
      shape,
      data: rng.normalArray(
        shape.reduce((a, b) => a * b, 1),
        0.5
      )
    }
  return out
}

/** Gradients of loss with respect to every array, computed on the named backend. */
async function gradientsOn(backend: string, arrays: Arrays, loss: LossFn): Promise<Record<string, Float32Array>> {
  const previous = tf.getBackend()
  await tf.setBackend(backend)
  try {
    const names = Object.keys(arrays)
    const tensors = names.map(n => tf.tensor(arrays[n].data, arrays[n].shape))
    const grads = tf.grads((...xs: tf.Tensor[]) => loss(Object.fromEntries(names.map((n, i) => [n, xs[i]]))))(tensors)
    const out = Object.fromEntries(names.map((n, i) => [n, grads[i].dataSync() as Float32Array]))
    tf.dispose([...tensors, ...grads])
    return out
  } finally {
    await tf.setBackend(previous)
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length)
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]))
  return worst
}

async function expectParity(arrays: Arrays, loss: LossFn, tol = 1e-4): Promise<number> {
  const before = tf.memory().numTensors
  const wasmBackend = tf.findBackend('wasm') as unknown as {numDataIds(): number}
  const buffersBefore = wasmBackend.numDataIds()
  const wasm = await gradientsOn('wasm', arrays, loss)
  expect(tf.memory().numTensors, 'tensors leaked by the wasm gradient').to.equal(before)
  expect(wasmBackend.numDataIds(), 'wasm buffers leaked by a kernel').to.equal(buffersBefore)
  const cpu = await gradientsOn('cpu', arrays, loss)
  let worst = 0
  for (const name of Object.keys(arrays)) {
    const d = maxAbsDiff(wasm[name], cpu[name])
    expect(d, `gradient of ${name}: max |wasm - cpu|`).to.be.at.most(tol)
    expect(
      Array.from(cpu[name]).some(v => v !== 0),
      `gradient of ${name} is all zeros`
    ).to.equal(true)
    worst = Math.max(worst, d)
  }
  return worst
}

/** A fixed random projection makes every output element matter to the loss. */
function weightedSum(y: tf.Tensor, seed: number): tf.Scalar {
  const r = tf.tensor(new Rng(seed).normalArray(y.size), y.shape)
  return tf.sum(tf.mul(y, r))
}

describe('wasm gradient kernels vs cpu backend', function () {
  let worstDiff = 0
  before(async function () {
    const name = await useTestBackend()
    if (name !== 'wasm') this.skip()
    registerCpuKernelFixes() // the reference backend's own nearest-resize gradient is wrong for batch > 1
  })
  after(() => {
    if (worstDiff > 0) console.log(`      worst |wasm - cpu| gradient difference: ${worstDiff.toExponential(2)}`)
  })

  it('registers the kernels wasm lacks', () => {
    for (const k of [
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'UnsortedSegmentSum',
      'Einsum'
    ]) {
      expect(tf.getKernel(k, 'wasm'), k).to.not.equal(undefined)
    }
  })

  for (const stride of [1, 2] as const) {
    for (const pad of ['same', 'valid'] as const) {
      it(`conv2d stride ${stride} padding ${pad}: dx and dW match cpu`, async () => {
        const arrays = randomArrays(10 + stride, {x: [2, 9, 8, 3], w: [3, 3, 3, 5]})
        worstDiff = Math.max(
          worstDiff,
          await expectParity(arrays, t =>
            weightedSum(tf.conv2d(t.x as tf.Tensor4D, t.w as tf.Tensor4D, stride, pad), 1)
          )
        )
      })
      it(`depthwise conv stride ${stride} padding ${pad} (multiplier 2): dx and dW match cpu`, async () => {
        const arrays = randomArrays(20 + stride, {x: [2, 9, 8, 3], w: [3, 3, 3, 2]})
        worstDiff = Math.max(
          worstDiff,
          await expectParity(arrays, t =>
            weightedSum(tf.depthwiseConv2d(t.x as tf.Tensor4D, t.w as tf.Tensor4D, stride, pad), 2)
          )
        )
      })
    }
  }

  it('max pool and nearest-upsample gradients equal a hand-written reference (batch 2, 8 channels)', async () => {
    const shape = [2, 6, 6, 8]
    const arrays = randomArrays(35, {x: shape})
    const x = arrays.x.data
    const poolWeights = new Rng(36).normalArray(2 * 3 * 3 * 8)
    const upWeights = new Rng(37).normalArray(2 * 12 * 12 * 8)
    const expected = new Float32Array(x.length)
    const at = (b: number, h: number, w: number, c: number) => ((b * 6 + h) * 6 + w) * 8 + c
    for (let b = 0; b < 2; b++)
      for (let h = 0; h < 3; h++)
        for (let w = 0; w < 3; w++)
          for (let c = 0; c < 8; c++) {
            let best = at(b, 2 * h, 2 * w, c)
            for (const [dh, dw] of [
              [0, 1],
              [1, 0],
              [1, 1]
            ])
              if (x[at(b, 2 * h + dh, 2 * w + dw, c)] > x[best]) best = at(b, 2 * h + dh, 2 * w + dw, c)
            expected[best] += poolWeights[((b * 3 + h) * 3 + w) * 8 + c]
          }
    for (let b = 0; b < 2; b++)
      for (let h = 0; h < 12; h++)
        for (let w = 0; w < 12; w++)
          for (let c = 0; c < 8; c++) {
            expected[at(b, h >> 1, w >> 1, c)] += upWeights[((b * 12 + h) * 12 + w) * 8 + c]
          }
    for (const backend of ['wasm', 'cpu']) {
      const got = await gradientsOn(backend, arrays, t => {
        const pooled = tf.sum(
          tf.mul(tf.maxPool(t.x as tf.Tensor4D, 2, 2, 'valid'), tf.tensor(poolWeights, [2, 3, 3, 8]))
        )
        const upsampled = tf.sum(
          tf.mul(tf.image.resizeNearestNeighbor(t.x as tf.Tensor4D, [12, 12]), tf.tensor(upWeights, [2, 12, 12, 8]))
        )
        return tf.add(pooled, upsampled)
      })
      expect(maxAbsDiff(got.x, expected), `${backend} max pool + nearest gradient`).to.be.below(1e-5)
    }
  })

  it('patch-embedding conv (kernel 2, stride 2) and a 1x1 conv match cpu', async () => {
    const arrays = randomArrays(30, {x: [1, 8, 8, 4], w: [2, 2, 4, 6], w1: [1, 1, 6, 3]})
    await expectParity(arrays, t =>
      weightedSum(
        tf.conv2d(tf.conv2d(t.x as tf.Tensor4D, t.w as tf.Tensor4D, 2, 'valid'), t.w1 as tf.Tensor4D, 1, 'same'),
        3
      )
    )
  })

  it('odd sizes, 1x1, 2x2 and 5x5 kernels, stride 3, numeric padding: conv2d dx and dW match cpu', async () => {
    const configs: Array<[number[], number[], number, 'same' | 'valid' | number]> = [
      [[1, 7, 7, 2], [2, 2, 2, 3], 2, 'same'],
      [[2, 8, 6, 3], [5, 5, 3, 2], 2, 'same'],
      [[1, 9, 7, 2], [5, 5, 2, 2], 2, 'valid'],
      [[1, 6, 6, 2], [3, 3, 2, 2], 2, 1],
      [[1, 5, 5, 3], [1, 1, 3, 4], 2, 'valid'],
      [[1, 6, 5, 2], [3, 3, 2, 2], 3, 'same'],
      [[1, 5, 5, 2], [3, 3, 2, 2], 1, 3] // padding wider than the filter: falls back to wasm's own input gradient
    ]
    for (const [i, [xShape, wShape, stride, pad]] of configs.entries()) {
      const arrays = randomArrays(70 + i, {x: xShape, w: wShape})
      worstDiff = Math.max(
        worstDiff,
        await expectParity(arrays, t => weightedSum(tf.conv2d(t.x as tf.Tensor4D, t.w as tf.Tensor4D, stride, pad), 9))
      )
    }
  })

  it('depthwise conv with multiplier 1 and 3, odd sizes, 2x2 and 5x5 kernels: dx and dW match cpu', async () => {
    const configs: Array<[number[], number[], number, 'same' | 'valid']> = [
      [[1, 7, 7, 3], [3, 3, 3, 1], 2, 'same'],
      [[2, 6, 5, 4], [5, 5, 4, 1], 1, 'same'],
      [[1, 7, 6, 2], [2, 2, 2, 3], 2, 'same'],
      [[1, 9, 8, 2], [3, 3, 2, 1], 2, 'valid']
    ]
    for (const [i, [xShape, wShape, stride, pad]] of configs.entries()) {
      const arrays = randomArrays(80 + i, {x: xShape, w: wShape})
      worstDiff = Math.max(
        worstDiff,
        await expectParity(arrays, t =>
          weightedSum(tf.depthwiseConv2d(t.x as tf.Tensor4D, t.w as tf.Tensor4D, stride, pad), 10)
        )
      )
    }
  })

  it('3x3 max pool with stride 2 and same padding (windows overlap the border) matches cpu', async () => {
    const arrays = randomArrays(31, {x: [2, 7, 7, 5]})
    await expectParity(arrays, t => weightedSum(tf.maxPool(t.x as tf.Tensor4D, 3, 2, 'same'), 8))
  })

  it('a small U-Net-like net (conv, relu, max pool, nearest upsample, batch-norm, GELU) matches cpu', async () => {
    const arrays = randomArrays(40, {
      x: [2, 8, 8, 2],
      w1: [3, 3, 2, 4],
      w2: [3, 3, 4, 4],
      w3: [3, 3, 8, 2],
      gamma: [4],
      beta: [4]
    })
    const loss: LossFn = t => {
      const e1 = tf.relu(tf.conv2d(t.x as tf.Tensor4D, t.w1 as tf.Tensor4D, 1, 'same'))
      const down = tf.maxPool(e1, 2, 2, 'valid')
      const {mean, variance} = tf.moments(down, [0, 1, 2])
      const normed = tf.batchNorm(down, mean, variance, t.beta, t.gamma, 1e-5)
      const mid = tf.conv2d(normed as tf.Tensor4D, t.w2 as tf.Tensor4D, 1, 'same')
      const gelu = tf.mul(tf.mul(mid, 0.5), tf.add(1, tf.erf(tf.div(mid, Math.SQRT2))))
      const up = tf.image.resizeNearestNeighbor(gelu as tf.Tensor4D, [8, 8])
      const out = tf.conv2d(tf.concat([up, e1], 3) as tf.Tensor4D, t.w3 as tf.Tensor4D, 1, 'same')
      return weightedSum(out, 4)
    }
    worstDiff = Math.max(worstDiff, await expectParity(arrays, loss))
  })

  it('transformer pieces (layer norm, softmax attention, embedding gather, einsum) match cpu', async () => {
    const arrays = randomArrays(50, {table: [10, 8], wq: [8, 8], wk: [8, 8], gamma: [8]})
    const ids = [3, 1, 3, 7, 0, 9]
    const loss: LossFn = t => {
      const x = tf.gather(t.table, tf.tensor1d(ids, 'int32'))
      const {mean, variance} = tf.moments(x, -1, true)
      const ln = tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-6))), t.gamma)
      const q = tf.matMul(ln, t.wq)
      const k = tf.matMul(ln, t.wk)
      const att = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(8)))
      return weightedSum(tf.matMul(att, ln), 5)
    }
    await expectParity(arrays, loss)
    const a = tf.tensor(new Rng(6).normalArray(24), [2, 3, 4])
    const b = tf.tensor(new Rng(7).normalArray(40), [2, 4, 5])
    const viaEinsum = tf.einsum('bij,bjk->bik', a, b)
    expect(maxAbsDiff(viaEinsum.dataSync() as Float32Array, tf.matMul(a, b).dataSync() as Float32Array)).to.be.below(
      1e-5
    )
    tf.dispose([a, b, viaEinsum])
  })

  it('a small conv net trains on wasm: loss falls over 30 steps', () => {
    const rng = new Rng(60)
    const x = tf.tensor4d(rng.normalArray(4 * 8 * 8 * 1), [4, 8, 8, 1])
    const target = tf.tidy(() => tf.image.resizeNearestNeighbor(tf.avgPool(x, 2, 2, 'valid'), [8, 8]))
    const w1 = tf.variable(tf.tensor4d(rng.normalArray(9 * 4, 0.3), [3, 3, 1, 4]))
    const dw = tf.variable(tf.tensor4d(rng.normalArray(9 * 4, 0.3), [3, 3, 4, 1]))
    const w2 = tf.variable(tf.tensor4d(rng.normalArray(9 * 4, 0.3), [3, 3, 4, 1]))
    const opt = tf.train.adam(0.02)
    const step = () =>
      opt.minimize(() => {
        const h = tf.relu(tf.conv2d(x, w1, 1, 'same'))
        const d = tf.depthwiseConv2d(tf.maxPool(h, 2, 2, 'same'), dw, 1, 'same')
        const y = tf.conv2d(tf.image.resizeNearestNeighbor(d, [8, 8]), w2, 1, 'same')
        return tf.mean(tf.square(tf.sub(y, target)))
      }, true) as tf.Scalar
    const losses: number[] = []
    const before = tf.memory().numTensors
    for (let i = 0; i < 30; i++) {
      const l = step()
      losses.push(l.dataSync()[0])
      l.dispose()
      if (i === 1) expect(tf.memory().numTensors, 'tensor count grows during training').to.be.at.most(before + 12)
    }
    const afterWarmup = tf.memory().numTensors
    const l = step()
    l.dispose()
    expect(tf.memory().numTensors, 'a training step leaks tensors').to.equal(afterWarmup)
    expect(losses.every(Number.isFinite)).to.equal(true)
    expect(losses[29], `loss ${losses[0]} -> ${losses[29]}`).to.be.below(losses[0] * 0.5)
    opt.dispose()
    tf.dispose([x, target, w1, dw, w2])
  })
})
