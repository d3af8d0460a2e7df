// The BACC interval of classify (issue 19 item 4) on cases with known answers: identical predictions
// differ by exactly 0 in every resample, a perfect and a chance predictor are told apart, and the
// interval of one noisy protocol covers its point value and shrinks as the test set grows.
import {expect} from 'chai'
import {baccBootstrap, balancedAccuracyOf} from '../../src/metrics/bacc-bootstrap.js'
import {Rng} from '../../src/util/rng.js'

const all = (n: number) => Int32Array.from({length: n}, (_, i) => i)

/** k classes, n_c images each (imbalanced like HAM10000's test split when counts say so). */
function labels(counts: number[]): Int32Array {
  return Int32Array.from(counts.flatMap((n, c) => Array.from({length: n}, () => c)))
}

/** Predictions right with probability `p` (wrong ones go to the next class). */
function noisy(yTrue: Int32Array, k: number, p: number, seed: number): Int32Array {
  const rng = new Rng(seed)
  return yTrue.map(y => (rng.uniform() < p ? y : (y + 1) % k))
}

describe('BACC bootstrap', () => {
  it('balanced accuracy is the mean recall over the classes present (sklearn)', () => {
    const yTrue = [0, 0, 0, 1, 2, 2],
      yPred = [0, 0, 1, 1, 0, 2]
    expect(balancedAccuracyOf(yTrue, yPred, all(6), 4)).to.be.closeTo((2 / 3 + 1 + 1 / 2) / 3, 1e-12)
  })

  it('the same predictions under two names differ by exactly 0, with a zero-width interval', () => {
    const yTrue = labels([50, 20, 5, 2]),
      pred = noisy(yTrue, 4, 0.6, 1)
    const b = baccBootstrap(yTrue, {real: pred, 'real+synthetic': Int32Array.from(pred)}, 4, 'real', 7, 500)
    expect(b.differences['real+synthetic']).to.deep.equal({value: 0, lo: 0, hi: 0})
  })

  it('a perfect predictor against one that predicts the majority class: BACC 1 vs 1/k, difference far from 0', () => {
    const yTrue = labels([120, 30, 25, 10, 7, 3, 2])
    const b = baccBootstrap(
      yTrue,
      {real: new Int32Array(yTrue.length), better: Int32Array.from(yTrue)},
      7,
      'real',
      3,
      500
    )
    expect(b.protocols.real).to.deep.equal({value: 1 / 7, lo: 1 / 7, hi: 1 / 7})
    expect(b.protocols.better.value).to.equal(1)
    expect(b.differences.better.lo).to.be.closeTo(6 / 7, 1e-12)
  })

  it('the interval covers the point value and narrows tenfold-ish when the test set is 100x larger', () => {
    const small = labels([120, 30, 25, 10, 7, 3, 2]),
      large = labels([12000, 3000, 2500, 1000, 700, 300, 200])
    const width = (y: Int32Array) => {
      const b = baccBootstrap(y, {real: noisy(y, 7, 0.5, 11)}, 7, 'real', 5, 400).protocols.real
      expect(b.lo).to.be.at.most(b.value)
      expect(b.hi).to.be.at.least(b.value)
      return b.hi - b.lo
    }
    const wSmall = width(small),
      wLarge = width(large)
    expect(wSmall).to.be.greaterThan(0.1) // the demo's split: rare classes of 2-3 images
    expect(wLarge).to.be.lessThan(wSmall / 5)
  })

  it('is deterministic from its seed', () => {
    const yTrue = labels([40, 10, 3]),
      a = noisy(yTrue, 3, 0.5, 2),
      b = noisy(yTrue, 3, 0.7, 3)
    const run = (seed: number) => baccBootstrap(yTrue, {real: a, mix: b}, 3, 'real', seed, 300)
    expect(run(9)).to.deep.equal(run(9))
    expect(run(9).differences.mix.lo).to.not.equal(run(10).differences.mix.lo)
  })
})
