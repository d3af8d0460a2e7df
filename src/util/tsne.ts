// Exact t-SNE (van der Maaten & Hinton 2008), for the alignment figure (paper Fig. 3): Gaussian
// affinities with a per-point binary search on the precision to match the perplexity,
// symmetrised P, Student-t Q, early exaggeration, momentum and per-parameter gains as in the
// reference implementation. O(n^2) memory and time per iteration: fine up to ~2000 points.
import {Rng} from './rng.js'

export interface TsneOptions {
  perplexity?: number
  iterations?: number
  /** sklearn's 'auto' rule when absent: max(n / exaggeration / 4, 50) */
  learningRate?: number
  earlyExaggeration?: number
  exaggerationIterations?: number
  seed?: number
}

/** Row-wise conditional affinities P(j|i) for squared distances `dist` (n x n), perplexity `perp`. */
function conditionalAffinities(dist: Float64Array, n: number, perp: number): Float64Array {
  const p = new Float64Array(n * n)
  const target = Math.log(perp)
  for (let i = 0; i < n; i++) {
    let beta = 1,
      lo = -Infinity,
      hi = Infinity
    const row = i * n
    for (let iter = 0; iter < 64; iter++) {
      let sum = 0,
        weighted = 0
      for (let j = 0; j < n; j++) {
        if (j === i) {
          p[row + j] = 0
          continue
        }
        const v = Math.exp(-dist[row + j] * beta)
        p[row + j] = v
        sum += v
        weighted += dist[row + j] * v
      }
      // Entropy H = log(sum) + beta * E[d]; too high -> raise beta.
      const h = sum > 0 ? Math.log(sum) + (beta * weighted) / sum : 0
      if (sum > 0 && Math.abs(h - target) < 1e-5) break
      if (sum === 0 || h < target) {
        hi = beta
        beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2
      } else {
        lo = beta
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2
      }
    }
    let sum = 0
    for (let j = 0; j < n; j++) sum += p[row + j]
    if (sum > 0) for (let j = 0; j < n; j++) p[row + j] /= sum
  }
  return p
}

/** Embeds n points of dimension d (row-major) into 2-D; returns [n*2]. Deterministic for a seed. */
export function tsne(data: ArrayLike<number>, n: number, d: number, opts: TsneOptions = {}): Float64Array {
  if (n === 0) return new Float64Array(0)
  if (n === 1) return new Float64Array(2)
  const perplexity = Math.max(1, Math.min(opts.perplexity ?? 30, (n - 1) / 3))
  const iterations = opts.iterations ?? 1000
  const exaggeration = opts.earlyExaggeration ?? 12
  const exaggerationIterations = Math.min(opts.exaggerationIterations ?? 250, iterations)
  const lr = opts.learningRate ?? Math.max(n / exaggeration / 4, 50)

  const dist = new Float64Array(n * n)
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0
      for (let k = 0; k < d; k++) {
        const t = data[i * d + k] - data[j * d + k]
        s += t * t
      }
      dist[i * n + j] = s
      dist[j * n + i] = s
    }
  }
  const cond = conditionalAffinities(dist, n, perplexity)
  const P = new Float64Array(n * n)
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) P[i * n + j] = Math.max((cond[i * n + j] + cond[j * n + i]) / (2 * n), 1e-12)

  const rng = new Rng(opts.seed ?? 0).fork('tsne')
  const Y = new Float64Array(n * 2)
  for (let i = 0; i < Y.length; i++) Y[i] = rng.normal() * 1e-4
  const update = new Float64Array(n * 2)
  const gains = new Float64Array(n * 2).fill(1)
  const num = new Float64Array(n * n)
  const grad = new Float64Array(n * 2)

  for (let iter = 0; iter < iterations; iter++) {
    const exag = iter < exaggerationIterations ? exaggeration : 1
    const momentum = iter < exaggerationIterations ? 0.5 : 0.8
    let sumNum = 0
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const dx = Y[2 * i] - Y[2 * j],
          dy = Y[2 * i + 1] - Y[2 * j + 1]
        const v = 1 / (1 + dx * dx + dy * dy)
        num[i * n + j] = v
        num[j * n + i] = v
        sumNum += 2 * v
      }
    }
    grad.fill(0)
    for (let i = 0; i < n; i++) {
      let gx = 0,
        gy = 0
      for (let j = 0; j < n; j++) {
        if (i === j) continue
        const v = num[i * n + j]
        const mult = (exag * P[i * n + j] - v / sumNum) * v
        gx += mult * (Y[2 * i] - Y[2 * j])
        gy += mult * (Y[2 * i + 1] - Y[2 * j + 1])
      }
      grad[2 * i] = 4 * gx
      grad[2 * i + 1] = 4 * gy
    }
    for (let k = 0; k < n * 2; k++) {
      gains[k] = Math.sign(grad[k]) !== Math.sign(update[k]) ? gains[k] + 0.2 : gains[k] * 0.8
      if (gains[k] < 0.01) gains[k] = 0.01
      update[k] = momentum * update[k] - lr * gains[k] * grad[k]
      Y[k] += update[k]
    }
    let mx = 0,
      my = 0
    for (let i = 0; i < n; i++) {
      mx += Y[2 * i]
      my += Y[2 * i + 1]
    }
    mx /= n
    my /= n
    for (let i = 0; i < n; i++) {
      Y[2 * i] -= mx
      Y[2 * i + 1] -= my
    }
  }
  return Y
}

/** Fraction of each point's k nearest neighbours (in the embedding) that share its label. */
export function neighbourAgreement(Y: ArrayLike<number>, labels: ArrayLike<number | string>, k = 5): number {
  const n = labels.length
  let agree = 0
  for (let i = 0; i < n; i++) {
    const d: Array<[number, number]> = []
    for (let j = 0; j < n; j++)
      if (j !== i) d.push([(Y[2 * i] - Y[2 * j]) ** 2 + (Y[2 * i + 1] - Y[2 * j + 1]) ** 2, j])
    d.sort((a, b) => a[0] - b[0])
    for (const [, j] of d.slice(0, k)) if (labels[j] === labels[i]) agree++
  }
  return agree / (n * Math.min(k, n - 1))
}
