// Pixel-level helpers for measure.ts: exact Euclidean distance transform (Felzenszwalb &
// Huttenlocher), box blur, edge profile across the mask boundary, dark-structure statistics.

const BIG = 1e20

function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0
  v[0] = 0
  z[0] = -BIG
  z[1] = BIG
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k])
    while (s <= z[k]) {
      k--
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k])
    }
    k++
    v[k] = q
    z[k] = s
    z[k + 1] = BIG
  }
  k = 0
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++
    d[q] = (q - v[k]) * (q - v[k]) + f[v[k]]
  }
}

/** Distance from every pixel to the nearest pixel where `target(i)` holds (0 there). */
function distanceTo(target: (i: number) => boolean, width: number, height: number): Float64Array {
  const n = Math.max(width, height)
  const f = new Float64Array(n),
    d = new Float64Array(n),
    v = new Int32Array(n),
    z = new Float64Array(n + 1)
  const grid = new Float64Array(width * height)
  for (let i = 0; i < grid.length; i++) grid[i] = target(i) ? 0 : BIG
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = grid[y * width + x]
    edt1d(f, height, d, v, z)
    for (let y = 0; y < height; y++) grid[y * width + x] = d[y]
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) f[x] = grid[y * width + x]
    edt1d(f, width, d, v, z)
    for (let x = 0; x < width; x++) grid[y * width + x] = Math.sqrt(d[x])
  }
  return grid
}

/** Signed distance to the mask outline at pixel centres: negative inside, boundary at 0. */
export function signedDistance(mask: Uint8Array, width: number, height: number): Float32Array {
  const toOutside = distanceTo(i => !mask[i], width, height)
  const toInside = distanceTo(i => !!mask[i], width, height)
  const out = new Float32Array(width * height)
  for (let i = 0; i < out.length; i++) out[i] = mask[i] ? -(toOutside[i] - 0.5) : toInside[i] - 0.5
  return out
}

/** 3×3 box blur (edges replicate), `passes` times. */
export function boxBlur(src: Float32Array, width: number, height: number, passes = 1): Float32Array {
  let a = src
  for (let p = 0; p < passes; p++) {
    const out = new Float32Array(a.length)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        let s = 0
        for (let dy = -1; dy <= 1; dy++) {
          const yy = Math.min(height - 1, Math.max(0, y + dy))
          for (let dx = -1; dx <= 1; dx++) s += a[yy * width + Math.min(width - 1, Math.max(0, x + dx))]
        }
        out[y * width + x] = s / 9
      }
    a = out
  }
  return a
}

/**
 * Edge width in pixels: contrast between inside and outside divided by the steepest slope of
 * the mean-intensity profile against signed distance. A step edge gives ~1 px, a ramp of
 * width w about w/1.5 (smoothstep). Null when there is no contrast to measure.
 */
export function edgeWidth(
  intensity: Float32Array,
  sd: Float32Array,
  exclude?: Uint8Array
): {width: number; contrast: number} | null {
  const BIN = 0.5,
    LO = -12,
    NB = 48
  const sum = new Float64Array(NB),
    cnt = new Float64Array(NB)
  for (let i = 0; i < sd.length; i++) {
    if (exclude && exclude[i]) continue
    const b = Math.floor((sd[i] - LO) / BIN)
    if (b < 0 || b >= NB) continue
    sum[b] += intensity[i]
    cnt[b]++
  }
  const centre = (b: number) => LO + (b + 0.5) * BIN
  const bins: Array<{d: number; v: number}> = []
  for (let b = 0; b < NB; b++) if (cnt[b] >= 3) bins.push({d: centre(b), v: sum[b] / cnt[b]})
  const inner = bins.filter(p => p.d < 0),
    outer = bins.filter(p => p.d > 0)
  if (inner.length === 0 || outer.length === 0) return null
  const deepest = inner[0].d
  const inVals = inner.filter(p => p.d <= Math.min(-1, deepest / 2 + 0)).map(p => p.v)
  const outVals = outer.filter(p => p.d >= 3.5 && p.d <= 7).map(p => p.v)
  if (inVals.length === 0 || outVals.length === 0) return null
  const vin = median(inVals)
  const vout = median(outVals)
  const contrast = vout - vin
  if (Math.abs(contrast) < 1e-6) return null
  let slope = 0
  for (let i = 0; i < bins.length; i++)
    for (let j = i + 1; j < bins.length; j++) {
      const span = bins[j].d - bins[i].d
      if (span < 0.9 || span > 1.6) continue
      const mid = (bins[i].d + bins[j].d) / 2
      if (mid < -3.5 || mid > 3.5) continue
      slope = Math.max(slope, ((bins[j].v - bins[i].v) / span) * Math.sign(contrast))
    }
  if (slope <= 0) return null
  return {width: Math.abs(contrast) / slope, contrast}
}

export function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * Valley depth: how much darker a pixel is than both of its neighbours at distance 1..reach
 * along the best of four directions. Thin dark lines and dots are valleys; a step between
 * two colour regions is not (one side is as dark as the pixel), unlike a plain
 * pixel-minus-local-mean residual.
 */
export function valleyDepth(intensity: Float32Array, width: number, height: number, reach: number): Float32Array {
  const out = new Float32Array(intensity.length)
  const dirs = [
    [1, 0],
    [0, 1],
    [1, 1],
    [1, -1]
  ]
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const c = intensity[y * width + x]
      let best = 0
      for (const [dx, dy] of dirs)
        for (let k = 1; k <= reach; k++) {
          const x1 = x - k * dx,
            y1 = y - k * dy,
            x2 = x + k * dx,
            y2 = y + k * dy
          if (x1 < 0 || y1 < 0 || x2 < 0 || y2 < 0 || x1 >= width || x2 >= width || y1 >= height || y2 >= height)
            continue
          const v = Math.min(intensity[y1 * width + x1], intensity[y2 * width + x2]) - c
          if (v > best) best = v
        }
      out[y * width + x] = best
    }
  return out
}

/**
 * Dark fine structure inside a region: pixels whose valley depth exceeds `threshold` are
 * "dark". Returns their fraction, how much of them the largest 8-connected component holds
 * (a pigment network is one connected mesh, dots are many small blobs), the mean component
 * size and the standard deviation of intensity minus its 3×3 mean (texture contrast).
 */
export function darkStructure(
  intensity: Float32Array,
  width: number,
  height: number,
  region: Uint8Array,
  threshold: number,
  reach = 1
): {
  darkFraction: number
  largestShare: number
  components: number
  meanComponent: number
  residualStd: number
  count: number
} {
  const blurred = boxBlur(intensity, width, height, 1)
  const valley = valleyDepth(intensity, width, height, reach)
  const dark = new Uint8Array(region.length)
  let count = 0,
    nDark = 0,
    s2 = 0
  for (let i = 0; i < region.length; i++) {
    if (!region[i]) continue
    const r = intensity[i] - blurred[i]
    count++
    s2 += r * r
    if (valley[i] > threshold) {
      dark[i] = 1
      nDark++
    }
  }
  let largest = 0,
    components = 0
  const seen = new Uint8Array(region.length)
  const stack: number[] = []
  for (let i = 0; i < dark.length; i++) {
    if (!dark[i] || seen[i]) continue
    components++
    let size = 0
    stack.push(i)
    seen[i] = 1
    while (stack.length) {
      const j = stack.pop()!
      size++
      const x = j % width,
        y = (j - x) / width
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx,
            yy = y + dy
          if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue
          const k = yy * width + xx
          if (dark[k] && !seen[k]) {
            seen[k] = 1
            stack.push(k)
          }
        }
    }
    largest = Math.max(largest, size)
  }
  return {
    darkFraction: count ? nDark / count : 0,
    largestShare: nDark ? largest / nDark : 0,
    components,
    meanComponent: components ? nDark / components : 0,
    residualStd: count ? Math.sqrt(s2 / count) : 0,
    count
  }
}
