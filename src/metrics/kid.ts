// Kernel Inception Distance (Bińkowski et al. 2018) as torch-fidelity computes it
// (metric_kid.py), in float64: the cubic polynomial kernel k(x,y) = (x·y/d + 1)^3 and the
// unbiased MMD² estimator. torch-fidelity's mmd2 uses m = len(X) for every term, which is only
// right for equal sizes; medgen uses the general unbiased formula
//   (ΣK_XX - tr K_XX)/(m(m-1)) + (ΣK_YY - tr K_YY)/(n(n-1)) - 2 ΣK_XY/(mn)
// which equals torch-fidelity's on equal-size subsets (docs/DESIGN.md "Metrics").
import type {FeatureSet} from './frechet.js'
import {Rng} from '../util/rng.js'
import {gramRows, matMulABt} from './linalg.js'

export interface KidOptions {
  degree?: number
  /** default 1/d */
  gamma?: number
  coef0?: number
}

/** Rows `idx` of a feature set as a float64 [idx.length, d] matrix. */
function gather(f: FeatureSet, idx: ArrayLike<number>): Float64Array {
  const out = new Float64Array(idx.length * f.d)
  for (let r = 0; r < idx.length; r++) {
    const src = idx[r] * f.d
    for (let t = 0; t < f.d; t++) out[r * f.d + t] = f.data[src + t]
  }
  return out
}

function resolve(d: number, opts: KidOptions): Required<KidOptions> {
  return {degree: opts.degree ?? 3, gamma: opts.gamma ?? 1 / d, coef0: opts.coef0 ?? 1}
}

const identity = (n: number): Int32Array => Int32Array.from({length: n}, (_, i) => i)

/** Unbiased MMD² between the rows `xi` of x and `yi` of y (all rows when omitted). */
export function mmd2Unbiased(
  x: FeatureSet,
  y: FeatureSet,
  opts: KidOptions = {},
  xi?: ArrayLike<number>,
  yi?: ArrayLike<number>
): number {
  if (x.d !== y.d) throw new Error(`feature dimensions differ: ${x.d} vs ${y.d}`)
  const ix = xi ?? identity(x.n)
  const iy = yi ?? identity(y.n)
  const m = ix.length,
    n = iy.length
  if (m < 2 || n < 2) throw new Error(`KID needs at least 2 samples per set (got ${m} and ${n})`)
  const X = {n: m, d: x.d, data: gather(x, ix)}
  const Y = {n, d: y.d, data: gather(y, iy)}
  return mmd2FromMatrices(kernelMatrices(X, Y, resolve(x.d, opts)), m, n, identity(m), identity(n))
}

export interface KidResult {
  mean: number
  /** np.std over subsets (ddof 0), as torch-fidelity reports */
  std: number
  perSubset: number[]
  subsets: number
  subsetSize: number
}

/** Kernel matrices K_XX, K_YY, K_XY, computed once so that many subsets only sum entries. */
function kernelMatrices(
  x: FeatureSet,
  y: FeatureSet,
  o: Required<KidOptions>
): {xx: Float64Array; yy: Float64Array; xy: Float64Array} {
  const X = x.data instanceof Float64Array ? x.data : Float64Array.from(x.data)
  const Y = y.data instanceof Float64Array ? y.data : Float64Array.from(y.data)
  const k = (m: Float64Array) => {
    for (let i = 0; i < m.length; i++) m[i] = (m[i] * o.gamma + o.coef0) ** o.degree
    return m
  }
  return {xx: k(gramRows(X, x.n, x.d)), yy: k(gramRows(Y, y.n, y.d)), xy: k(matMulABt(X, Y, x.n, y.n, x.d))}
}

function mmd2FromMatrices(
  K: {xx: Float64Array; yy: Float64Array; xy: Float64Array},
  nx: number,
  ny: number,
  ix: ArrayLike<number>,
  iy: ArrayLike<number>
): number {
  const m = ix.length,
    n = iy.length
  let sxx = 0,
    syy = 0,
    sxy = 0
  for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) if (a !== b) sxx += K.xx[ix[a] * nx + ix[b]]
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (a !== b) syy += K.yy[iy[a] * ny + iy[b]]
  for (let a = 0; a < m; a++) for (let b = 0; b < n; b++) sxy += K.xy[ix[a] * ny + iy[b]]
  return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - (2 * sxy) / (m * n)
}

/** KID over given subsets: index arrays into x and y, one pair per subset. */
export function kidFromSubsets(
  x: FeatureSet,
  y: FeatureSet,
  subsetsX: ArrayLike<number>[],
  subsetsY: ArrayLike<number>[],
  opts: KidOptions = {}
): KidResult {
  if (x.d !== y.d) throw new Error(`feature dimensions differ: ${x.d} vs ${y.d}`)
  // Many subsets of a moderate set: precompute the kernel once (torch-fidelity recomputes it
  // per subset on a GPU; in JS that would be 100 x 1000² dot products of length 2048).
  const entries = x.n * x.n + y.n * y.n + x.n * y.n
  const perSubsetEntries = subsetsX.reduce((acc, ix, s) => acc + (ix.length + subsetsY[s].length) ** 2, 0)
  const K = perSubsetEntries > entries && entries <= 40_000_000 ? kernelMatrices(x, y, resolve(x.d, opts)) : null
  const perSubset = subsetsX.map((ix, s) =>
    K ? mmd2FromMatrices(K, x.n, y.n, ix, subsetsY[s]) : mmd2Unbiased(x, y, opts, ix, subsetsY[s])
  )
  const mean = perSubset.reduce((a, b) => a + b, 0) / perSubset.length
  const std = Math.sqrt(perSubset.reduce((a, b) => a + (b - mean) ** 2, 0) / perSubset.length)
  return {mean, std, perSubset, subsets: perSubset.length, subsetSize: subsetsX[0]?.length ?? 0}
}

/** Draws `size` distinct indices of [0, n) (partial Fisher-Yates). */
export function chooseWithoutReplacement(rng: Rng, n: number, size: number): Int32Array {
  const pool = identity(n)
  for (let i = 0; i < size; i++) {
    const j = i + rng.int(n - i)
    const t = pool[i]
    pool[i] = pool[j]
    pool[j] = t
  }
  return pool.slice(0, size)
}

export interface KidRunOptions extends KidOptions {
  subsets: number
  /** 0 = min(1000, n_x, n_y) */
  subsetSize: number
  seed: number
}

/** KID with seeded subsets drawn like torch-fidelity (x then y for each subset), mean ± std. */
export function kid(x: FeatureSet, y: FeatureSet, opts: KidRunOptions): KidResult {
  const size = opts.subsetSize > 0 ? opts.subsetSize : Math.min(1000, x.n, y.n)
  if (size > x.n || size > y.n) {
    throw new Error(
      `KID subset size ${size} is larger than a set (${x.n} real, ${y.n} generated); set eval.kidSubsetSize lower`
    )
  }
  const rng = new Rng(opts.seed)
  const sx: Int32Array[] = [],
    sy: Int32Array[] = []
  for (let s = 0; s < opts.subsets; s++) {
    sx.push(chooseWithoutReplacement(rng, x.n, size))
    sy.push(chooseWithoutReplacement(rng, y.n, size))
  }
  return kidFromSubsets(x, y, sx, sy, opts)
}
