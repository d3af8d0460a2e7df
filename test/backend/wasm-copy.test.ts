// Concat and SplitV on wasm (src/backend/wasm-copy.ts, issue 20) against index arithmetic done
// here: every axis, uneven pieces, an empty input, and Concat's gradient (which is a SplitV).
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'

/** Element at multi-index idx of a row-major array of shape. */
function at(data: Float32Array, shape: number[], idx: number[]): number {
  let k = 0
  for (let i = 0; i < shape.length; i++) k = k * shape[i] + idx[i]
  return data[k]
}

function* indices(shape: number[]): Generator<number[]> {
  const idx = shape.map(() => 0)
  const n = shape.reduce((a, b) => a * b, 1)
  for (let c = 0; c < n; c++) {
    yield idx.slice()
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break
      idx[d] = 0
    }
  }
}

describe('wasm Concat / SplitV row copies', () => {
  before(async () => {
    await useTestBackend()
  })

  const base = [2, 3, 4, 37]
  for (let axis = 0; axis < 4; axis++) {
    it(`concat and split along axis ${axis} equal index arithmetic`, () => {
      const widths = [1, 2, axis === 3 ? 40 : 3]
      const parts = widths.map((w, i) =>
        tf.randomNormal(
          base.map((d, k) => (k === axis ? w : d)),
          0,
          1,
          'float32',
          10 + i
        )
      )
      const cat = tf.concat(parts, axis - 4) // negative axis on purpose
      const got = cat.dataSync() as Float32Array
      const datas = parts.map(p => p.dataSync() as Float32Array)
      for (const idx of indices(cat.shape)) {
        let j = idx[axis],
          i = 0
        while (j >= widths[i]) {
          j -= widths[i]
          i++
        }
        const src = idx.slice()
        src[axis] = j
        expect(at(got, cat.shape, idx)).to.equal(at(datas[i], parts[i].shape, src))
      }
      const pieces = tf.split(cat, widths, axis)
      pieces.forEach((p, i) => expect(Array.from(p.dataSync())).to.deep.equal(Array.from(datas[i])))
      const even = tf.split(cat, widths.length === 3 && cat.shape[axis] % 2 === 0 ? 2 : 1, axis)
      expect(even.reduce((a, p) => a + p.size, 0)).to.equal(cat.size)
      tf.dispose([...parts, cat, ...pieces, ...even])
    })
  }

  it('skips empty inputs and passes gradients through concat', () => {
    const a = tf.tensor2d([
      [1, 2],
      [3, 4]
    ])
    const empty = tf.zeros([2, 0])
    const b = tf.tensor2d([[5], [6]])
    expect(tf.concat([a, empty, b], 1).arraySync()).to.deep.equal([
      [1, 2, 5],
      [3, 4, 6]
    ])
    const w = tf.tensor2d([
      [1, 10, 100],
      [1000, 10000, 100000]
    ])
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.concat([x, y], 1).mul(w).sum())([a, b])
    expect(ga.arraySync()).to.deep.equal([
      [1, 10],
      [1000, 10000]
    ])
    expect(gb.arraySync()).to.deep.equal([[100], [100000]])
    tf.dispose([a, empty, b, w, ga, gb])
  })

  it('leaves int32 to the native kernels', () => {
    const a = tf.tensor2d([[1], [2]], undefined, 'int32')
    const c = tf.concat([a, a], 1)
    expect(c.dtype).to.equal('int32')
    expect(c.arraySync()).to.deep.equal([
      [1, 1],
      [2, 2]
    ])
    expect(tf.split(c, 2, 1).map(t => t.arraySync())).to.deep.equal([
      [[1], [2]],
      [[1], [2]]
    ])
    tf.dispose([a, c])
  })
})
