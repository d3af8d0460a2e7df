// Seeded randomness (issue 2, item 6): the same seed gives the same stream, a saved state resumes
// it exactly (what checkpoints rely on), forks are independent and tfjs seeds are reproducible.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {Rng, deriveSeed, hashString} from '../../src/util/rng.js'
import {useTestBackend} from '../helpers/backend.js'

const draw = (rng: Rng, n = 200) =>
  Array.from({length: n}, (_, i) => (i % 3 === 0 ? rng.uniform() : i % 3 === 1 ? rng.normal() : rng.int(1000)))

describe('Rng', () => {
  it('the same seed gives the same stream; different seeds differ', () => {
    expect(draw(new Rng(42))).to.deep.equal(draw(new Rng(42)))
    expect(draw(new Rng('run-a'))).to.deep.equal(draw(new Rng('run-a')))
    expect(draw(new Rng(42))).to.not.deep.equal(draw(new Rng(43)))
    // nearby seeds give unrelated first values (splitmix seeding)
    const firsts = Array.from({length: 50}, (_, s) => new Rng(s).uniform())
    expect(new Set(firsts).size).to.equal(50)
  })

  it('state saved mid-stream (e.g. in a checkpoint, via JSON) continues identically', () => {
    const a = new Rng(7)
    draw(a, 101)
    const saved = JSON.parse(JSON.stringify(a.getState()))
    const expected = draw(a)
    const resumed = Rng.fromState(saved)
    expect(draw(resumed)).to.deep.equal(expected)
    const b = new Rng(999)
    b.setState(saved)
    expect(draw(b)).to.deep.equal(expected)
    expect(() => b.setState([1, 2, 3] as never)).to.throw(/invalid RNG state/)
  })

  it('uniform, int, permutation and normal have the right ranges and rough moments', () => {
    const rng = new Rng(3)
    const u = Array.from({length: 20000}, () => rng.uniform())
    expect(Math.min(...u)).to.be.at.least(0)
    expect(Math.max(...u)).to.be.below(1)
    expect(u.reduce((s, v) => s + v, 0) / u.length).to.be.closeTo(0.5, 0.01)
    const n = rng.normalArray(20000)
    const mean = n.reduce((s, v) => s + v, 0) / n.length
    const variance = n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length
    expect(mean).to.be.closeTo(0, 0.03)
    expect(variance).to.be.closeTo(1, 0.05)
    const ints = Array.from({length: 1000}, () => rng.int(7))
    expect(new Set(ints)).to.deep.equal(new Set([0, 1, 2, 3, 4, 5, 6]))
    expect(rng.permutation(50).sort((x, y) => x - y)).to.deep.equal(Array.from({length: 50}, (_, i) => i))
  })

  it('fork gives an independent, reproducible child without advancing the parent', () => {
    const parent = new Rng(11)
    const before = parent.getState()
    const child = parent.fork('augment')
    expect(parent.getState()).to.deep.equal(before)
    expect(draw(child)).to.deep.equal(draw(new Rng(11).fork('augment')))
    expect(draw(new Rng(11).fork('augment'))).to.not.deep.equal(draw(new Rng(11).fork('dropout')))
  })

  it('per-item seeds and tfjs seeds are reproducible', async () => {
    expect(deriveSeed(1, 'sample', 3)).to.equal(deriveSeed(1, 'sample', 3))
    expect(deriveSeed(1, 'sample', 3)).to.not.equal(deriveSeed(1, 'sample', 4))
    expect(deriveSeed(1, 'x')).to.be.within(0, 2147483646)
    expect(hashString('abc')).to.equal(hashString('abc'))
    await useTestBackend()
    const sample = (seed: number) =>
      tf.tidy(() => Array.from(tf.randomNormal([16], 0, 1, 'float32', new Rng(seed).tfSeed()).dataSync()))
    expect(sample(5)).to.deep.equal(sample(5))
    expect(sample(5)).to.not.deep.equal(sample(6))
  })
})
