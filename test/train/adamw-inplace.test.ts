// AdamW's in-place wasm update (src/train/adamw.ts updateInPlace, issue 20) against the kernel
// path: bit-identical parameters and moments over several steps, and no in-place write to a
// parameter whose memory another tensor shares.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {AdamW} from '../../src/train/adamw.js'
import {Rng} from '../../src/util/rng.js'

function run(inPlace: boolean, weightDecay: number, gradScale = 1): {params: Float32Array[]; moments: Float32Array[]} {
  const rng = new Rng(5)
  const shapes = [[33, 7], [5], [3, 3, 4, 2]]
  const params = new Map(
    shapes.map((s, i) => [`p${i}`, tf.variable(tf.tensor(rng.normalArray(s.reduce((a, b) => a * b, 1)), s))])
  )
  const opt = new AdamW(params, {lr: 3e-3, weightDecay, beta1: 0.5, eps: 1e-6, inPlace})
  for (let step = 0; step < 4; step++) {
    const grads = new Map(
      [...params].map(([name, p]) => [
        name,
        tf.tensor(
          rng.normalArray(p.size).map(x => x * 10 ** (step - 2)),
          p.shape
        )
      ])
    )
    opt.applyGradients(grads, 3e-3 / (step + 1), gradScale)
    tf.dispose([...grads.values()])
  }
  const out = [...params.values()].map(p => p.dataSync() as Float32Array)
  const moments = opt as unknown as {m: Map<string, tf.Tensor>; v: Map<string, tf.Tensor>}
  const mv = [...moments.m.values(), ...moments.v.values()].map(t => t.dataSync() as Float32Array)
  opt.dispose()
  params.forEach(p => p.dispose())
  return {params: out, moments: mv}
}

describe('AdamW in place on wasm', () => {
  before(async () => {
    await useTestBackend()
  })

  for (const [wd, scale] of [
    [0, 1],
    [0.01, 1],
    [0.01, 0.37]
  ]) {
    it(`gives bit-identical parameters and moments to the kernel path (weight decay ${wd}, gradients x ${scale})`, () => {
      const a = run(true, wd, scale)
      const b = run(false, wd, scale)
      a.params.forEach((p, i) => expect(Array.from(p)).to.deep.equal(Array.from(b.params[i])))
      a.moments.forEach((m, i) => expect(Array.from(m)).to.deep.equal(Array.from(b.moments[i])))
    })
  }

  it('trains a product exactly as the kernel path: later products see the updated weight', () => {
    // the wasm backend caches XNNPACK's packed copy of a matmul's right operand under the tensor's
    // id; an in-place write that left it in place made every later product use the first step's weight
    const fit = (inPlace: boolean): number[] => {
      const rng = new Rng(9)
      const x = tf.tensor(rng.normalArray(16 * 24), [16, 24])
      const target = tf.tensor(rng.normalArray(16 * 8), [16, 8])
      const w = tf.variable(tf.tensor(rng.normalArray(24 * 8), [24, 8]))
      const opt = new AdamW(new Map([['w', w]]), {lr: 0.05, inPlace})
      const losses: number[] = []
      for (let step = 0; step < 5; step++) {
        const {value, grads} = tf.variableGrads(() => tf.matMul(x, w).sub(target).square().mean() as tf.Scalar, [w])
        losses.push(value.dataSync()[0])
        opt.applyGradients(new Map([['w', grads[w.name]]]))
        tf.dispose([value, grads[w.name]])
      }
      tf.dispose([x, target, w])
      opt.dispose()
      return losses
    }
    const inPlace = fit(true)
    expect(inPlace).to.deep.equal(fit(false))
    expect(inPlace[4]).to.be.lessThan(inPlace[0])
  })

  it('runs no kernels for the update on wasm (it really is the in-place path)', async function () {
    if (tf.getBackend() !== 'wasm') this.skip()
    const p = tf.variable(tf.tensor1d([1, 2, 3]))
    const g = tf.tensor1d([1, -1, 1])
    const opt = new AdamW(new Map([['p', p]]), {lr: 0.1, inPlace: true})
    opt.applyGradients(new Map([['p', g]])) // first step makes the moments (zerosLike kernels)
    const info = await tf.profile(() => {
      opt.applyGradients(new Map([['p', g]]))
    })
    expect(info.kernels.map(k => k.name)).to.deep.equal([])
    tf.dispose([p, g])
    opt.dispose()
  })

  it("leaves a tensor sharing the parameter's memory unchanged", () => {
    const p = tf.variable(tf.tensor1d([1, 2, 3]))
    const alias = p.reshape([3, 1]) // wasm's Reshape shares the buffer
    const opt = new AdamW(new Map([['p', p]]), {lr: 0.1})
    const g = tf.tensor1d([1, -1, 1])
    opt.applyGradients(new Map([['p', g]]))
    expect(Array.from(alias.dataSync())).to.deep.equal([1, 2, 3])
    expect(Array.from(p.dataSync())).to.not.deep.equal([1, 2, 3])
    tf.dispose([p, alias, g])
    opt.dispose()
  })
})
