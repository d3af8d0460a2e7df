// How far a balanced accuracy can move by the luck of the test set alone (issue 19 item 4: "real+synthetic
// not more than 0.02 below real"). The demo's test split holds 200 images of which df and vasc have 2-3:
// one image of a rare class moves BACC by 1/(7 x 2), so a difference between protocols is only a finding
// next to its interval. Stratified bootstrap over test images (each class resampled within itself, so every
// class stays present and BACC keeps its k terms), paired across protocols (the same resample scores every
// protocol, so the interval is of the difference itself, not of two independent noises).
import {Rng, deriveSeed} from '../util/rng.js'

/** Mean recall over the classes present in yTrue (sklearn balanced_accuracy_score). */
export function balancedAccuracyOf(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  rows: ArrayLike<number>,
  k: number
): number {
  const hit = new Float64Array(k),
    n = new Float64Array(k)
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]
    n[yTrue[i]]++
    if (yPred[i] === yTrue[i]) hit[yTrue[i]]++
  }
  let sum = 0,
    present = 0
  for (let c = 0; c < k; c++)
    if (n[c] > 0) {
      sum += hit[c] / n[c]
      present++
    }
  return present ? sum / present : NaN
}

export interface Interval {
  value: number
  lo: number
  hi: number
}

export interface BaccBootstrap {
  /** per protocol: BACC on the test set and its 95% percentile interval */
  protocols: Record<string, Interval>
  /** per protocol other than the reference: BACC(protocol) - BACC(reference) and its paired 95% interval */
  differences: Record<string, Interval>
  reference: string
  rounds: number
}

const percentile = (sorted: Float64Array, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]

/**
 * `predictions[p]` are the test-set predictions of protocol p (same order as yTrue). Deterministic from
 * `seed`. `reference` (e.g. 'real') is the protocol the others are compared with.
 */
export function baccBootstrap(
  yTrue: ArrayLike<number>,
  predictions: Record<string, ArrayLike<number>>,
  k: number,
  reference: string,
  seed: number,
  rounds = 2000
): BaccBootstrap {
  const names = Object.keys(predictions)
  if (!names.includes(reference)) throw new Error(`baccBootstrap: reference protocol ${reference} has no predictions`)
  const byClass: number[][] = Array.from({length: k}, () => [])
  for (let i = 0; i < yTrue.length; i++) byClass[yTrue[i]].push(i)
  const all = Int32Array.from({length: yTrue.length}, (_, i) => i)
  const rng = new Rng(deriveSeed(seed, 'bacc-bootstrap'))
  const samples: Record<string, Float64Array> = Object.fromEntries(names.map(p => [p, new Float64Array(rounds)]))
  const rows = new Int32Array(yTrue.length)
  for (let b = 0; b < rounds; b++) {
    let r = 0
    for (const members of byClass) for (let j = 0; j < members.length; j++) rows[r++] = members[rng.int(members.length)]
    for (const p of names) samples[p][b] = balancedAccuracyOf(yTrue, predictions[p], rows, k)
  }
  const interval = (value: number, draws: Float64Array): Interval => {
    const sorted = Float64Array.from(draws).sort()
    return {value, lo: percentile(sorted, 0.025), hi: percentile(sorted, 0.975)}
  }
  const point = (p: string) => balancedAccuracyOf(yTrue, predictions[p], all, k)
  const protocols: Record<string, Interval> = {}
  for (const p of names) protocols[p] = interval(point(p), samples[p])
  const differences: Record<string, Interval> = {}
  for (const p of names) {
    if (p === reference) continue
    const diff = samples[p].map((v, b) => v - samples[reference][b])
    differences[p] = interval(point(p) - point(reference), diff)
  }
  return {protocols, differences, reference, rounds}
}
