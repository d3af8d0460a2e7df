// Fréchet distance between two Gaussians fitted to feature sets (FID when the features are
// Inception pool3), following pytorch-fid's calculate_frechet_distance (docs/DESIGN.md "Metrics"):
//   d² = ||mu1 - mu2||² + tr S1 + tr S2 - 2 tr sqrtm(S1 S2)
// mu as pytorch-fid gets it (np.mean of float32 features: float32, summed row by row);
// S = np.cov(features, rowvar=False): float64, ddof 1.
// tr sqrtm(S1 S2) is the sum of the square roots of the eigenvalues of S1 S2, which are those
// of the symmetric S1^½ S2 S1^½ (real, >= 0 up to rounding). scipy's Schur-based sqrtm and this
// eigen formulation agree to ~1e-8 relative on the golden cases.
//
// Low-rank path (features known, fewer samples than dimensions, e.g. 600 x 2048): with centred
// data A [na,d], B [nb,d], S1 = AᵀA/(na-1), S2 = BᵀB/(nb-1), so
//   S1 S2 = Aᵀ (A Bᵀ B) / c,  c = (na-1)(nb-1),
// and the nonzero eigenvalues of Aᵀ(A Bᵀ B) equal those of (A Bᵀ B) Aᵀ = M Mᵀ with M = A Bᵀ.
// Hence tr sqrtm(S1 S2) = sum of the singular values of M / sqrt(c): one [na,nb] product and
// one eigen-decomposition of the smaller Gram matrix (min(na,nb)²), instead of d x d work.
import {gramColumns, matMulABt, reconstruct, symmetricEigen} from './linalg.js'

export interface GaussianStats {
  d: number
  n: number
  /** pytorch-fid mean (float32 precision, stored as float64) */
  mu: Float64Array
  /** float64 covariance, ddof 1, row-major d x d */
  sigma: Float64Array
}

/** Features in row-major [n, d]: anything indexable (Float32Array from Inception, Float64Array). */
export interface FeatureSet {
  n: number
  d: number
  data: ArrayLike<number>
}

/** np.mean(float32 [n,d], axis=0): float32 accumulation row by row, then a float32 division. */
export function meanFloat32(f: FeatureSet): Float64Array {
  const acc = new Float32Array(f.d)
  for (let r = 0; r < f.n; r++) {
    const off = r * f.d
    for (let j = 0; j < f.d; j++) acc[j] = acc[j] + f.data[off + j]
  }
  return Float64Array.from(acc, v => Math.fround(v / f.n))
}

export function meanFloat64(f: FeatureSet): Float64Array {
  const acc = new Float64Array(f.d)
  for (let r = 0; r < f.n; r++) for (let j = 0; j < f.d; j++) acc[j] += f.data[r * f.d + j]
  for (let j = 0; j < f.d; j++) acc[j] /= f.n
  return acc
}

/** Rows minus their float64 mean (what np.cov centres with). */
export function centred(f: FeatureSet): Float64Array {
  const mu = meanFloat64(f)
  const out = new Float64Array(f.n * f.d)
  for (let r = 0; r < f.n; r++) for (let j = 0; j < f.d; j++) out[r * f.d + j] = f.data[r * f.d + j] - mu[j]
  return out
}

export function gaussianStats(f: FeatureSet): GaussianStats {
  if (f.n < 2) throw new Error(`Fréchet distance needs at least 2 samples per set, got ${f.n}`)
  const sigma = gramColumns(centred(f), f.n, f.d)
  for (let i = 0; i < sigma.length; i++) sigma[i] /= f.n - 1
  return {d: f.d, n: f.n, mu: meanFloat32(f), sigma}
}

export interface FrechetResult {
  value: number
  diffSq: number
  trSigma1: number
  trSigma2: number
  trCovmean: number
  /** 'eigen' (S1^½ S2 S1^½), 'low-rank' (singular values of A Bᵀ) */
  method: 'eigen' | 'low-rank'
  /** pytorch-fid's retry with S + eps I ran (non-finite first result, or forced) */
  epsPathTaken: boolean
}

function meanDiffSq(mu1: Float64Array, mu2: Float64Array): number {
  if (mu1.length !== mu2.length) throw new Error(`mean vectors have different lengths (${mu1.length} vs ${mu2.length})`)
  // pytorch-fid: diff = mu1 - mu2 in float32, then diff.dot(diff).
  let s = 0
  for (let i = 0; i < mu1.length; i++) {
    const t = Math.fround(mu1[i] - mu2[i])
    s += t * t
  }
  return s
}

function trace(m: Float64Array, d: number): number {
  let t = 0
  for (let i = 0; i < d; i++) t += m[i * d + i]
  return t
}

/** tr sqrtm(S1 S2) by the symmetric eigen formulation, negative eigenvalues clipped to 0. */
export function traceSqrtProduct(sigma1: Float64Array, sigma2: Float64Array, d: number): number {
  const sqrt1 = reconstruct(symmetricEigen(sigma1, d, true), d, l => Math.sqrt(Math.max(l, 0)))
  // sqrt1 S2 sqrt1 = sqrt1 (sqrt1 S2)ᵀ... computed as (sqrt1 S2) sqrt1 with S2, sqrt1 symmetric.
  const left = matMulABt(sqrt1, sigma2, d, d, d) // sqrt1 S2ᵀ = sqrt1 S2
  const inner = matMulABt(left, sqrt1, d, d, d) // (sqrt1 S2) sqrt1ᵀ
  for (let i = 0; i < d; i++)
    for (let j = 0; j < i; j++) {
      // symmetrise rounding noise
      const v = 0.5 * (inner[i * d + j] + inner[j * d + i])
      inner[i * d + j] = v
      inner[j * d + i] = v
    }
  const vals = symmetricEigen(inner, d, false).values
  let t = 0
  for (const l of vals) t += Math.sqrt(Math.max(l, 0))
  return t
}

function withOffset(sigma: Float64Array, d: number, eps: number): Float64Array {
  const out = Float64Array.from(sigma)
  for (let i = 0; i < d; i++) out[i * d + i] += eps
  return out
}

export interface FrechetOptions {
  /** pytorch-fid's eps: offset added to both diagonals when the first result is not finite */
  eps?: number
  /** run the eps-offset branch even for a finite result (for comparison with pytorch-fid) */
  forceEps?: boolean
}

/** Fréchet distance from precomputed statistics (pytorch-fid's .npz mu/sigma, cached stats). */
export function frechetFromStats(s1: GaussianStats, s2: GaussianStats, opts: FrechetOptions = {}): FrechetResult {
  const d = s1.d
  if (s2.d !== d) throw new Error(`feature dimensions differ: ${s1.d} vs ${s2.d}`)
  const eps = opts.eps ?? 1e-6
  const diffSq = meanDiffSq(s1.mu, s2.mu)
  const trSigma1 = trace(s1.sigma, d)
  const trSigma2 = trace(s2.sigma, d)
  let epsPathTaken = !!opts.forceEps
  let trCovmean = epsPathTaken ? NaN : traceSqrtProduct(s1.sigma, s2.sigma, d)
  if (!Number.isFinite(trCovmean)) {
    epsPathTaken = true
    trCovmean = traceSqrtProduct(withOffset(s1.sigma, d, eps), withOffset(s2.sigma, d, eps), d)
  }
  return {
    value: diffSq + trSigma1 + trSigma2 - 2 * trCovmean,
    diffSq,
    trSigma1,
    trSigma2,
    trCovmean,
    method: 'eigen',
    epsPathTaken
  }
}

/**
 * Fréchet distance from two feature sets. Chooses the cheaper exact path: the low-rank one when
 * the sample counts are small against d, otherwise covariances + eigen-decompositions.
 */
export function frechetDistance(
  a: FeatureSet,
  b: FeatureSet,
  opts: FrechetOptions & {method?: 'auto' | 'eigen' | 'low-rank'} = {}
): FrechetResult {
  if (a.d !== b.d) throw new Error(`feature dimensions differ: ${a.d} vs ${b.d}`)
  if (a.n < 2 || b.n < 2) throw new Error(`Fréchet distance needs at least 2 samples per set (got ${a.n} and ${b.n})`)
  const d = a.d
  const lowRankCost = a.n * b.n * d + Math.min(a.n, b.n) ** 2 * Math.max(a.n, b.n) + 2 * Math.min(a.n, b.n) ** 3
  const eigenCost = ((a.n + b.n) * d * d) / 2 + 10 * d ** 3
  const method = opts.method && opts.method !== 'auto' ? opts.method : lowRankCost < eigenCost ? 'low-rank' : 'eigen'
  if (method === 'eigen' || opts.forceEps) return frechetFromStats(gaussianStats(a), gaussianStats(b), opts)

  const A = centred(a)
  const B = centred(b)
  const diffSq = meanDiffSq(meanFloat32(a), meanFloat32(b))
  let sa = 0
  for (const v of A) sa += v * v
  let sb = 0
  for (const v of B) sb += v * v
  const trSigma1 = sa / (a.n - 1)
  const trSigma2 = sb / (b.n - 1)
  // M = A Bᵀ [na, nb]; its singular values squared are the eigenvalues of the smaller Gram.
  const M = matMulABt(A, B, a.n, b.n, d)
  const gram = a.n <= b.n ? matMulABt(M, M, a.n, a.n, b.n) : gramColumns(M, a.n, b.n)
  const k = Math.min(a.n, b.n)
  const vals = symmetricEigen(gram, k, false).values
  // The Gram has rank <= min(d, na-1, nb-1); its zero eigenvalues come out as rounding noise
  // (~eps·λmax), whose square roots would add up to ~1e-5 relative. Treat them as zero.
  const floor = k * 2 ** -52 * Math.max(vals[k - 1], 0)
  let nuclear = 0
  for (const l of vals) if (l > floor) nuclear += Math.sqrt(l)
  let trCovmean = nuclear / Math.sqrt((a.n - 1) * (b.n - 1))
  let epsPathTaken = false
  if (!Number.isFinite(trCovmean)) {
    const r = frechetFromStats(gaussianStats(a), gaussianStats(b), {...opts, forceEps: true})
    trCovmean = r.trCovmean
    epsPathTaken = true
  }
  return {
    value: diffSq + trSigma1 + trSigma2 - 2 * trCovmean,
    diffSq,
    trSigma1,
    trSigma2,
    trCovmean,
    method: 'low-rank',
    epsPathTaken
  }
}
