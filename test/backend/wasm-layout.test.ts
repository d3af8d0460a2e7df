// Transpose of many rows and Sum over leading or middle axes on wasm (src/backend/wasm-transpose.ts,
// src/backend/wasm-sum.ts, issue 20) against index arithmetic done here: the shapes each kernel
// reroutes and those it leaves to the native kernel, size-1 axes, keepDims, and no leaked buffers.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {Rng} from '../../src/util/rng.js'

const {util} = tf

function random(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(new Rng(seed).normalArray(util.sizeFromShape(shape)), shape)
}

describe('wasm Transpose and Sum (leading or middle axes)', () => {
  before(async () => {
    await useTestBackend()
  })

  const transposes: [number[], number[]][] = [
    [
      [512, 96],
      [1, 0]
    ], // rerouted (rows % 8)
    [
      [260, 40],
      [1, 0]
    ], // rerouted (rows % 4)
    [
      [258, 33],
      [1, 0]
    ], // rerouted (rows % 2)
    [
      [257, 64],
      [1, 0]
    ], // odd rows: native
    [
      [96, 512],
      [1, 0]
    ], // few rows: native
    [
      [1, 512, 1, 96],
      [3, 1, 2, 0]
    ], // a 2-D transpose once the size-1 axes are dropped
    [
      [8, 64, 96],
      [0, 2, 1]
    ] // 3-D: native
  ]
  for (const [shape, perm] of transposes) {
    it(`transposes [${shape}] by [${perm}] element for element`, () => {
      const x = random(shape, shape[0] + shape[1])
      const before = tf.memory().numTensors
      const y = tf.transpose(x, perm)
      expect(y.shape).to.deep.equal(perm.map(a => shape[a]))
      const xs = x.dataSync()
      const ys = y.dataSync()
      const outStrides = util.computeStrides(y.shape)
      const inStrides = util.computeStrides(shape)
      for (let i = 0; i < xs.length; i++) {
        // input multi-index -> output offset
        let rest = i
        let outOffset = 0
        const idx = shape.map((_, d) => {
          const stride = d < shape.length - 1 ? inStrides[d] : 1
          const v = Math.floor(rest / stride)
          rest -= v * stride
          return v
        })
        perm.forEach((a, d) => (outOffset += idx[a] * (d < perm.length - 1 ? outStrides[d] : 1)))
        if (ys[outOffset] !== xs[i]) expect.fail(`element ${i}: ${ys[outOffset]} != ${xs[i]}`)
      }
      y.dispose()
      expect(tf.memory().numTensors).to.equal(before)
      x.dispose()
    })
  }

  const sums: [number[], number[], boolean][] = [
    [[512, 96], [0], false], // rerouted: one product
    [[8, 64, 96], [0, 1], false], // rerouted
    [[8, 64, 96], [0, 1], true], // rerouted, keepDims
    [[8, 64, 96], [1], false], // a middle axis: rerouted
    [[2, 3, 5, 7, 4], [1, 2], true], // a middle block, odd row count: rerouted
    [[2, 3, 5, 7], [0, 2], false], // axes not adjacent: native
    [[8, 64, 96], [2], false], // innermost: native
    [[8, 64, 96], [-3, -2], false], // negative axes, rerouted
    [[3, 1], [0], false] // one column: native
  ]
  for (const [shape, axes, keepDims] of sums) {
    it(`sums [${shape}] over [${axes}]${keepDims ? ' keeping dims' : ''} as float64 arithmetic does (to float32 rounding)`, () => {
      const x = random(shape, 7 + shape.length)
      const y = tf.sum(x, axes, keepDims)
      const norm = axes.map(a => (a < 0 ? a + shape.length : a))
      const outShape = shape.map((d, i) => (norm.includes(i) ? 1 : d))
      expect(y.shape).to.deep.equal(keepDims ? outShape : shape.filter((_, i) => !norm.includes(i)))
      const expected = new Float64Array(util.sizeFromShape(outShape))
      const xs = x.dataSync()
      const strides = util.computeStrides(shape)
      const outStrides = util.computeStrides(outShape)
      for (let i = 0; i < xs.length; i++) {
        let rest = i
        let o = 0
        shape.forEach((_, d) => {
          const stride = d < shape.length - 1 ? strides[d] : 1
          const v = Math.floor(rest / stride)
          rest -= v * stride
          if (!norm.includes(d)) o += v * (d < shape.length - 1 ? outStrides[d] : 1)
        })
        expected[o] += xs[i]
      }
      const got = y.dataSync()
      const rows = util.sizeFromShape(norm.map(a => shape[a]))
      for (let i = 0; i < expected.length; i++)
        expect(Math.abs(got[i] - expected[i]), `output ${i}`).to.be.below(1e-5 * Math.sqrt(rows) * 4)
      tf.dispose([x, y])
    })
  }

  it("a dense layer's gradients through both kernels equal float64 arithmetic", () => {
    // d/dW sum((xW + b) * r) = x^T r (the rerouted Transpose of x), d/db = rows of r summed (the rerouted Sum)
    const [m, k, n] = [512, 48, 40]
    const x = random([m, k], 1)
    const r = random([m, n], 2)
    const w = random([k, n], 3)
    const b = random([n], 4)
    const [dw, db] = tf.grads((wv: tf.Tensor, bv: tf.Tensor) =>
      tf
        .matMul(x as tf.Tensor2D, wv as tf.Tensor2D)
        .add(bv)
        .mul(r)
        .sum()
    )([w, b])
    const xs = x.dataSync()
    const rs = r.dataSync()
    const dws = dw.dataSync()
    const dbs = db.dataSync()
    for (let j = 0; j < n; j++) {
      let bias = 0
      for (let i = 0; i < m; i++) bias += rs[i * n + j]
      expect(Math.abs(dbs[j] - bias), `db[${j}]`).to.be.below(1e-4)
      for (let c = 0; c < k; c++) {
        let acc = 0
        for (let i = 0; i < m; i++) acc += xs[i * k + c] * rs[i * n + j]
        expect(Math.abs(dws[c * n + j] - acc), `dW[${c},${j}]`).to.be.below(1e-4)
      }
    }
    tf.dispose([x, r, w, b, dw, db])
  })
})
