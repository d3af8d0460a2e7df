// The shared-buffer Identity on wasm (src/backend/wasm-kernels.ts): clones share memory, and
// disposing either side leaves the other intact until the last reference goes.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'

describe('wasm Identity shares buffers', function () {
  before(async function () {
    if ((await useTestBackend()) !== 'wasm') this.skip()
  })

  it('a clone adds no buffer, survives disposal of the original, and frees on the last dispose', () => {
    const backend = tf.backend() as unknown as {numDataIds(): number}
    const before = backend.numDataIds()
    const x = tf.tensor1d([1, 2, 3, 4])
    const y = x.clone()
    expect(backend.numDataIds() - before, 'buffers after clone').to.equal(1)
    x.dispose()
    expect(Array.from(y.dataSync())).to.deep.equal([1, 2, 3, 4])
    const z = y.add(1)
    expect(Array.from(z.dataSync())).to.deep.equal([2, 3, 4, 5])
    tf.dispose([y, z])
    expect(backend.numDataIds()).to.equal(before)
  })

  it('gradients through saved (cloned) tensors are unchanged: d/dx sum(relu(x)^2) = 2 relu(x)', () => {
    const x = tf.tensor1d([-1, 0.5, 2])
    const g = tf.grad((a: tf.Tensor) => tf.relu(a).square().sum())(x)
    expect(Array.from(g.dataSync())).to.deep.equal([0, 1, 4])
    tf.dispose([x, g])
  })
})
