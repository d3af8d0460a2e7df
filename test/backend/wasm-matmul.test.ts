// BatchMatMul on wasm routed onto XNNPACK (src/backend/wasm-matmul.ts): every operand layout the
// kernel rewrites (transposes, a batch against one right operand, batched pairs on zero-copy
// views, broadcast of one left matrix, small pairs left to the native loop) gives the product a
// float64 loop computes, frees every buffer it made, and leaves its inputs untouched.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {Rng} from '../../src/util/rng.js'
import {wasmHeapBytes} from '../../src/backend/kernel-recorder.js'

function randomTensor(shape: number[], rng: Rng): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape)
}

/** float64 reference with numpy-style batch broadcasting. */
function reference(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): {shape: number[]; values: Float64Array} {
  const A = a.arraySync() as never,
    B = b.arraySync() as never
  const ra = a.rank,
    rb = b.rank
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2]
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1]
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1]
  const batchA = a.shape.slice(0, -2),
    batchB = b.shape.slice(0, -2)
  const rank = Math.max(batchA.length, batchB.length)
  const padA = [...Array(rank - batchA.length).fill(1), ...batchA],
    padB = [...Array(rank - batchB.length).fill(1), ...batchB]
  const outBatch = padA.map((d, i) => Math.max(d, padB[i]))
  const count = outBatch.reduce((x, y) => x * y, 1)
  const values = new Float64Array(count * m * n)
  const pick = (root: never, idx: number[], dims: number[], offset: number): never => {
    let node = root
    for (let i = offset; i < dims.length; i++) node = (node as never[])[dims[i] === 1 ? 0 : idx[i]]
    return node
  }
  for (let c = 0; c < count; c++) {
    const idx: number[] = []
    let rest = c
    for (let i = rank - 1; i >= 0; i--) {
      idx[i] = rest % outBatch[i]
      rest = Math.floor(rest / outBatch[i])
    }
    const ma = pick(A, idx, padA, rank - batchA.length) as unknown as number[][]
    const mb = pick(B, idx, padB, rank - batchB.length) as unknown as number[][]
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let sum = 0
        for (let p = 0; p < k; p++) sum += (ta ? ma[p][i] : ma[i][p]) * (tb ? mb[j][p] : mb[p][j])
        values[(c * m + i) * n + j] = sum
      }
  }
  return {shape: [...outBatch, m, n], values}
}

describe('wasm BatchMatMul on XNNPACK', function () {
  this.timeout(60_000)
  before(async function () {
    if ((await useTestBackend()) !== 'wasm') this.skip()
  })

  const cases: Array<[string, number[], number[], boolean, boolean]> = [
    ['2-D plain', [40, 33], [33, 37], false, false],
    ['2-D transposeB (dense backward dx)', [40, 33], [37, 33], false, true],
    ['2-D transposeA (dense backward dW)', [33, 40], [33, 37], true, false],
    ['both transposed', [33, 40], [37, 33], true, true],
    ['batch against one right operand', [3, 40, 33], [1, 33, 37], false, false],
    ['attention scores q k^T, 6 heads', [2, 3, 40, 33], [2, 3, 37, 33], false, true],
    ['attention backward p^T dv', [6, 40, 33], [6, 40, 37], true, false],
    ['one left matrix broadcast over a batch', [1, 40, 33], [5, 33, 37], false, false],
    ['pairs too small for a call each', [7, 5, 6], [7, 4, 6], false, true],
    ['broadcast between batched operands (native loop)', [2, 1, 40, 33], [1, 3, 33, 37], false, false],
    ['a right operand of 2^20 elements (a view of it, packed per call)', [3, 4, 64], [64, 16384], false, false]
  ]
  for (const [name, sa, sb, ta, tb] of cases) {
    it(`${name}: ${JSON.stringify(sa)} x ${JSON.stringify(sb)}`, () => {
      const rng = new Rng(sa.length * 100 + sb[0])
      const a = randomTensor(sa, rng),
        b = randomTensor(sb, rng)
      const aBefore = Array.from(a.dataSync()),
        bBefore = Array.from(b.dataSync())
      const backend = tf.backend() as unknown as {numDataIds(): number}
      const buffers = backend.numDataIds()
      const out = tf.matMul(a, b, ta, tb)
      const want = reference(a, b, ta, tb)
      expect(out.shape).to.deep.equal(want.shape)
      const got = out.dataSync()
      let worst = 0
      for (let i = 0; i < got.length; i++)
        worst = Math.max(worst, Math.abs(got[i] - want.values[i]) / (1 + Math.abs(want.values[i])))
      expect(worst, 'max relative error').to.be.below(1e-5)
      expect(backend.numDataIds() - buffers, 'buffers left besides the output').to.equal(1)
      expect(Array.from(a.dataSync())).to.deep.equal(aBefore)
      expect(Array.from(b.dataSync())).to.deep.equal(bBefore)
      tf.dispose([a, b, out])
    })
  }

  it('large weights leave no packed copy behind (the wasm heap does not grow by their size)', () => {
    // PixArt-XL-2's forward kept XNNPACK's packed copy of every weight and hit the 4 GB heap
    const weights = Array.from({length: 24}, (_, i) => tf.randomNormal([1024, 1024], 0, 1, 'float32', i))
    const x = tf.randomNormal([8, 1024], 0, 1, 'float32', 99)
    tf.dispose(tf.matMul(x, weights[0])) // scratch the kernel needs once
    const before = wasmHeapBytes()!
    for (const w of weights) tf.dispose(tf.matMul(x, w))
    const grown = wasmHeapBytes()! - before
    expect(grown, `heap grew ${grown} B over 24 products with 4 MB weights`).to.be.below(24 * 4 * 2 ** 20 * 0.5)
    tf.dispose([x, ...weights])
  })

  it('gradients of a batched attention product match central differences', () => {
    const rng = new Rng(5)
    const q = randomTensor([2, 40, 33], rng),
      k = randomTensor([2, 37, 33], rng),
      w = randomTensor([2, 40, 37], rng)
    const f = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, false, true).mul(w).sum()
    const [dq, dk] = tf.grads(f)([q, k])
    // d/dq sum(w * q k^T) = w k ; d/dk = w^T q
    const wantDq = reference(w, k, false, false),
      wantDk = reference(w, q, true, false)
    const close = (got: tf.Tensor, want: Float64Array) =>
      Math.max(...Array.from(got.dataSync(), (v, i) => Math.abs(v - want[i]) / (1 + Math.abs(want[i]))))
    expect(close(dq, wantDq.values)).to.be.below(1e-5)
    expect(close(dk, wantDk.values)).to.be.below(1e-5)
    tf.dispose([q, k, w, dq, dk])
  })
})
