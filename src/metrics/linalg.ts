// Dense float64 linear algebra for the metrics: products of row-major matrices and a symmetric
// eigen-solver (Householder tridiagonalisation + implicit QL, after JAMA's tred2/tql2, public
// domain). Everything is Float64Array, row-major; n x n matrices are `a[i * n + j]`.

/** C = A B^T for A [m,k], B [n,k] (both row-major): dot products of rows, cache friendly. */
export function matMulABt(a: Float64Array, b: Float64Array, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * n)
  for (let i = 0; i < m; i++) {
    const ai = i * k
    for (let j = 0; j < n; j++) {
      const bj = j * k
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0
      let t = 0
      for (; t + 3 < k; t += 4) {
        s0 += a[ai + t] * b[bj + t]
        s1 += a[ai + t + 1] * b[bj + t + 1]
        s2 += a[ai + t + 2] * b[bj + t + 2]
        s3 += a[ai + t + 3] * b[bj + t + 3]
      }
      for (; t < k; t++) s0 += a[ai + t] * b[bj + t]
      c[i * n + j] = s0 + s1 + (s2 + s3)
    }
  }
  return c
}

/** C = A A^T for A [m,k]: symmetric, so only the upper triangle is computed. */
export function gramRows(a: Float64Array, m: number, k: number): Float64Array {
  const c = new Float64Array(m * m)
  for (let i = 0; i < m; i++) {
    const ai = i * k
    for (let j = i; j < m; j++) {
      const aj = j * k
      let s0 = 0,
        s1 = 0
      let t = 0
      for (; t + 1 < k; t += 2) {
        s0 += a[ai + t] * a[aj + t]
        s1 += a[ai + t + 1] * a[aj + t + 1]
      }
      if (t < k) s0 += a[ai + t] * a[aj + t]
      c[i * m + j] = s0 + s1
      c[j * m + i] = s0 + s1
    }
  }
  return c
}

/** C = A^T A for A [m,k]: the k x k Gram matrix of the columns (accumulated row by row). */
export function gramColumns(a: Float64Array, m: number, k: number): Float64Array {
  const c = new Float64Array(k * k)
  for (let r = 0; r < m; r++) {
    const ar = r * k
    for (let i = 0; i < k; i++) {
      const v = a[ar + i]
      if (v === 0) continue
      const ci = i * k
      for (let j = i; j < k; j++) c[ci + j] += v * a[ar + j]
    }
  }
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) c[i * k + j] = c[j * k + i]
  return c
}

export interface SymEig {
  /** eigenvalues, ascending */
  values: Float64Array
  /** eigenvectors as columns of a row-major n x n matrix (only when requested) */
  vectors: Float64Array | null
}

/**
 * Eigen-decomposition of a symmetric n x n matrix. With `wantVectors` false the vectors are
 * not accumulated, which makes the QL phase O(n^2) and the whole thing about 3x faster.
 */
export function symmetricEigen(matrix: Float64Array, n: number, wantVectors = true): SymEig {
  // V holds the matrix on entry to tred2 and the accumulated transformations afterwards.
  const V = Float64Array.from(matrix)
  const d = new Float64Array(n)
  const e = new Float64Array(n)
  tred2(V, d, e, n, wantVectors)
  tql2(V, d, e, n, wantVectors)
  return {values: d, vectors: wantVectors ? V : null}
}

function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number, wantVectors: boolean): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j]
  for (let i = n - 1; i > 0; i--) {
    let scale = 0
    let h = 0
    for (let k = 0; k < i; k++) scale += Math.abs(d[k])
    if (scale === 0) {
      e[i] = d[i - 1]
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j]
        V[i * n + j] = 0
        V[j * n + i] = 0
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale
        h += d[k] * d[k]
      }
      let f = d[i - 1]
      let g = Math.sqrt(h)
      if (f > 0) g = -g
      e[i] = scale * g
      h -= f * g
      d[i - 1] = f - g
      for (let j = 0; j < i; j++) e[j] = 0
      for (let j = 0; j < i; j++) {
        f = d[j]
        V[j * n + i] = f
        g = e[j] + V[j * n + j] * f
        for (let k = j + 1; k <= i - 1; k++) {
          const vkj = V[k * n + j]
          g += vkj * d[k]
          e[k] += vkj * f
        }
        e[j] = g
      }
      f = 0
      for (let j = 0; j < i; j++) {
        e[j] /= h
        f += e[j] * d[j]
      }
      const hh = f / (h + h)
      for (let j = 0; j < i; j++) e[j] -= hh * d[j]
      for (let j = 0; j < i; j++) {
        f = d[j]
        g = e[j]
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k]
        d[j] = V[(i - 1) * n + j]
        V[i * n + j] = 0
      }
    }
    d[i] = h
  }
  if (wantVectors) {
    // Accumulate the Householder transformations.
    for (let i = 0; i < n - 1; i++) {
      V[(n - 1) * n + i] = V[i * n + i]
      V[i * n + i] = 1
      const h = d[i + 1]
      if (h !== 0) {
        for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h
        for (let j = 0; j <= i; j++) {
          let g = 0
          for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j]
          for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k]
        }
      }
      for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0
    }
    for (let j = 0; j < n; j++) {
      d[j] = V[(n - 1) * n + j]
      V[(n - 1) * n + j] = 0
    }
    V[(n - 1) * n + n - 1] = 1
  } else {
    // Without vectors only the diagonal is needed: it sits on V's diagonal after the reduction.
    for (let j = 0; j < n; j++) d[j] = V[j * n + j]
  }
  for (let i = 1; i < n; i++) e[i - 1] = e[i]
  e[n - 1] = 0
}

function tql2(V: Float64Array, d: Float64Array, e: Float64Array, n: number, wantVectors: boolean): void {
  let f = 0
  let tst1 = 0
  const eps = 2 ** -52
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]))
    let m = l
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break
      m++
    }
    if (m > l) {
      let iter = 0
      do {
        if (++iter > 300) throw new Error('symmetricEigen: QL iteration did not converge')
        let g = d[l]
        let p = (d[l + 1] - g) / (2 * e[l])
        let r = Math.hypot(p, 1)
        if (p < 0) r = -r
        d[l] = e[l] / (p + r)
        d[l + 1] = e[l] * (p + r)
        const dl1 = d[l + 1]
        let h = g - d[l]
        for (let i = l + 2; i < n; i++) d[i] -= h
        f += h
        p = d[m]
        let c = 1,
          c2 = c,
          c3 = c
        const el1 = e[l + 1]
        let s = 0,
          s2 = 0
        for (let i = m - 1; i >= l; i--) {
          c3 = c2
          c2 = c
          s2 = s
          g = c * e[i]
          h = c * p
          r = Math.hypot(p, e[i])
          e[i + 1] = s * r
          s = e[i] / r
          c = p / r
          p = c * d[i] - s * g
          d[i + 1] = h + s * (c * g + s * d[i])
          if (wantVectors) {
            for (let k = 0; k < n; k++) {
              h = V[k * n + i + 1]
              V[k * n + i + 1] = s * V[k * n + i] + c * h
              V[k * n + i] = c * V[k * n + i] - s * h
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1
        e[l] = s * p
        d[l] = c * p
      } while (Math.abs(e[l]) > eps * tst1)
    }
    d[l] = d[l] + f
    e[l] = 0
  }
  // Sort ascending (vectors follow).
  for (let i = 0; i < n - 1; i++) {
    let k = i
    let p = d[i]
    for (let j = i + 1; j < n; j++)
      if (d[j] < p) {
        k = j
        p = d[j]
      }
    if (k !== i) {
      d[k] = d[i]
      d[i] = p
      if (wantVectors) {
        for (let j = 0; j < n; j++) {
          const t = V[j * n + i]
          V[j * n + i] = V[j * n + k]
          V[j * n + k] = t
        }
      }
    }
  }
}

/** V diag(f(lambda)) V^T for a symmetric eigen-decomposition. */
export function reconstruct(eig: SymEig, n: number, f: (lambda: number) => number): Float64Array {
  const V = eig.vectors
  if (!V) throw new Error('reconstruct needs eigenvectors')
  const w = Float64Array.from(eig.values, f)
  // (V * w) V^T: scale columns, then rows of V times rows of V.
  const Vw = new Float64Array(n * n)
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Vw[i * n + j] = V[i * n + j] * w[j]
  return matMulABt(Vw, V, n, n, n)
}
