// Small painting helpers shared by the three synthetic modalities: smooth value noise,
// edge ramps, soft discs and thin curved strands (hair, mucosal folds). Plain typed arrays.
import type {Rng} from '../../util/rng.js'

export const clamp01 = (t: number): number => (t < 0 ? 0 : t > 1 ? 1 : t)
export const smoothstep = (t: number): number => {
  const u = clamp01(t)
  return u * u * (3 - 2 * u)
}

/** Edge alpha from a signed distance (px, negative inside) and an edge width (px). */
export function edgeAlpha(sd: number, width: number): number {
  return smoothstep(0.5 - sd / Math.max(1, width))
}

/** Smooth noise in [-1, 1]: random values on a (cells+1)² grid, bicubic-smoothed (smoothstep) interpolation. */
export function valueNoise(size: number, cells: number, rng: Rng): Float32Array {
  const g = cells + 1
  const grid = new Float32Array(g * g)
  for (let i = 0; i < grid.length; i++) grid[i] = rng.range(-1, 1)
  const out = new Float32Array(size * size)
  for (let y = 0; y < size; y++) {
    const fy = ((y + 0.5) / size) * cells,
      iy = Math.min(cells - 1, Math.floor(fy)),
      ty = smoothstep(fy - iy)
    for (let x = 0; x < size; x++) {
      const fx = ((x + 0.5) / size) * cells,
        ix = Math.min(cells - 1, Math.floor(fx)),
        tx = smoothstep(fx - ix)
      const a = grid[iy * g + ix],
        b = grid[iy * g + ix + 1],
        c = grid[(iy + 1) * g + ix],
        d = grid[(iy + 1) * g + ix + 1]
      out[y * size + x] = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty
    }
  }
  return out
}

export interface Strand {
  points: Array<[number, number]>
  width: number
  opacity: number
}

/** A quadratic Bézier strand crossing the image (fractions of the side). */
export function drawStrand(rng: Rng, width: number, opacity: number): Strand {
  const edgePoint = (): [number, number] => {
    const t = rng.uniform(),
      side = rng.int(4)
    return side === 0 ? [t, -0.05] : side === 1 ? [1.05, t] : side === 2 ? [t, 1.05] : [-0.05, t]
  }
  const p0 = edgePoint()
  let p2 = edgePoint()
  for (let i = 0; i < 4 && Math.hypot(p2[0] - p0[0], p2[1] - p0[1]) < 0.6; i++) p2 = edgePoint()
  const p1: [number, number] = [rng.range(0.1, 0.9), rng.range(0.1, 0.9)]
  const points: Array<[number, number]> = []
  for (let i = 0; i <= 24; i++) {
    const t = i / 24,
      u = 1 - t
    points.push([u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0], u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1]])
  }
  return {points, width, opacity}
}

/** Coverage (0..1) of a strand at every pixel, accumulated into `out` by max. */
export function strandCoverage(strand: Strand, size: number, out: Float32Array): void {
  const pts = strand.points.map(([x, y]) => [x * size, y * size])
  const half = Math.max(0.35, (strand.width * size) / 2)
  for (let s = 0; s + 1 < pts.length; s++) {
    const [ax, ay] = pts[s],
      [bx, by] = pts[s + 1]
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - half - 1)),
      x1 = Math.min(size - 1, Math.ceil(Math.max(ax, bx) + half + 1))
    const y0 = Math.max(0, Math.floor(Math.min(ay, by) - half - 1)),
      y1 = Math.min(size - 1, Math.ceil(Math.max(ay, by) + half + 1))
    const vx = bx - ax,
      vy = by - ay,
      len2 = vx * vx + vy * vy || 1
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5 - ax,
          py = y + 0.5 - ay
        const t = clamp01((px * vx + py * vy) / len2)
        const d = Math.hypot(px - t * vx, py - t * vy)
        const c = clamp01(half + 0.5 - d) * strand.opacity
        const i = y * size + x
        if (c > out[i]) out[i] = c
      }
  }
}

/** Seeded standard-normal field, optionally box-blurred once (correlated speckle). */
export function noiseField(size: number, rng: Rng, blur: boolean): Float32Array {
  const n = new Float32Array(size * size)
  for (let i = 0; i < n.length; i++) n[i] = rng.normal()
  if (!blur) return n
  const out = new Float32Array(n.length)
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let s = 0,
        c = 0
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx,
            yy = y + dy
          if (xx < 0 || yy < 0 || xx >= size || yy >= size) continue
          s += n[yy * size + xx] * (dx === 0 && dy === 0 ? 2 : 1)
          c += dx === 0 && dy === 0 ? 2 : 1
        }
      out[y * size + x] = (s / c) * 2.2 // rescale to roughly unit variance
    }
  return out
}
