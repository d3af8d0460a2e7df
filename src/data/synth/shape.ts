// Lesion outlines as radial functions r(θ) around a centre (one per synthetic lesion):
//   round      ellipse with axis ratio near 1
//   oval       ellipse with axis ratio 0.5-0.65 (high second-moment eccentricity)
//   irregular  ellipse times 1 + Σ a_k cos(kθ + φ_k) with large low-frequency harmonics
//              (concave bays between lobes: low solidity)
// Symmetric outlines use only even harmonics with phase 0 or π, which keep mirror symmetry
// about both ellipse axes; asymmetric ones add odd harmonics (k = 3, 5, 7) with free phase,
// which break the mirror symmetry about every pair of perpendicular axes.
import type {Rng} from '../../util/rng.js'
import type {Attributes} from '../attributes.js'

export interface Harmonic {
  k: number
  amp: number
  phase: number
}
export interface ShapeParams {
  /** centre as a fraction of the image side */
  cx: number
  cy: number
  /** semi-major axis of the base ellipse as a fraction of the image side */
  radius: number
  axisRatio: number
  rotation: number
  harmonics: Harmonic[]
  /** lesion area / image area the outline was scaled to */
  areaFraction: number
}

/** Area fraction ranges per size value, with gaps between them so that the label is unambiguous. */
export const sizeRanges: Record<string, [number, number]> = {
  small: [0.025, 0.05],
  medium: [0.08, 0.13],
  large: [0.19, 0.26]
}

/**
 * Where the lesion sits: `anywhere` = uniformly wherever it fits (the default, all recorded
 * figures); `centred` = within 0.05 of the image side from the centre, as dermoscopy is framed
 * (HAM10000's lesions sit near the centre of their images). A model conditioned only on the
 * anatomy occupancy vector (docs/REFERENCE.md §4.2) is not told where the lesion is; centring makes
 * that condition complete, which the short from-scratch demo DiT needs (docs/RESULTS.md).
 * `centred-aligned` also lays every outline with its major axis horizontal (rotation 0): no
 * attribute names the orientation either, so a generator must otherwise invent one per lesion.
 */
export type Placement = 'anywhere' | 'centred' | 'centred-aligned'
export const CENTRED_JITTER = 0.05

const TABLE = 720

function rawRadius(theta: number, axisRatio: number, harmonics: Harmonic[]): number {
  const c = Math.cos(theta),
    s = Math.sin(theta)
  const ellipse = axisRatio / Math.sqrt((axisRatio * c) ** 2 + s * s)
  let h = 1
  for (const {k, amp, phase} of harmonics) h += amp * Math.cos(k * theta + phase)
  return ellipse * h
}

export function drawShape(a: Attributes, rng: Rng, placement: Placement = 'anywhere'): ShapeParams {
  const harmonics: Harmonic[] = []
  let axisRatio: number
  const asym = a.symmetry === 'asymmetric'
  if (a.shape === 'irregular') {
    axisRatio = rng.range(0.75, 1)
    if (asym) {
      const total = rng.range(0.42, 0.52)
      const ks = [3, 4, 5, 6, 7]
      const w = ks.map(() => rng.range(0.3, 1))
      w[0] += 0.6 // a strong k=3 term keeps the outline clearly asymmetric
      const sum = w.reduce((x, y) => x + y, 0)
      ks.forEach((k, i) => harmonics.push({k, amp: (total * w[i]) / sum, phase: rng.range(0, 2 * Math.PI)}))
    } else {
      const sign = () => (rng.uniform() < 0.5 ? 0 : Math.PI)
      harmonics.push({k: 4, amp: rng.range(0.17, 0.23), phase: sign()})
      harmonics.push({k: 6, amp: rng.range(0.08, 0.13), phase: sign()})
      harmonics.push({k: 8, amp: rng.range(0.03, 0.06), phase: sign()})
    }
  } else {
    axisRatio = a.shape === 'oval' ? rng.range(0.5, 0.63) : rng.range(0.9, 1)
    if (asym) {
      harmonics.push({k: 3, amp: rng.range(0.11, 0.14), phase: rng.range(0, 2 * Math.PI)})
      harmonics.push({k: 1, amp: rng.range(0.05, 0.08), phase: rng.range(0, 2 * Math.PI)})
    }
  }
  const [lo, hi] = sizeRanges[a.size] ?? sizeRanges.medium
  const areaFraction = rng.range(lo, hi)
  // Area of the unit outline: ½∫r² dθ, then scale to the wanted fraction of the image.
  let area = 0,
    maxR = 0
  for (let i = 0; i < TABLE; i++) {
    const r = rawRadius((2 * Math.PI * i) / TABLE, axisRatio, harmonics)
    area += 0.5 * r * r * ((2 * Math.PI) / TABLE)
    maxR = Math.max(maxR, r)
  }
  let radius = Math.sqrt(areaFraction / area)
  const limit = 0.46
  if (radius * maxR > limit) radius = limit / maxR
  const fits = Math.max(0, 0.5 - radius * maxR - 0.04)
  // the same two draws either way, so `centred` changes only the position of each seed's lesion
  const room = placement === 'anywhere' ? fits : Math.min(fits, CENTRED_JITTER)
  const cx = 0.5 + rng.range(-room, room),
    cy = 0.5 + rng.range(-room, room)
  const rotation = rng.range(0, Math.PI) // drawn either way, so the next draws stay the same
  return {
    cx,
    cy,
    radius,
    axisRatio,
    rotation: placement === 'centred-aligned' ? 0 : rotation,
    harmonics,
    areaFraction: radius * radius * area
  }
}

/** Evaluates the outline: signed distance in pixels (negative inside) at pixel centres. */
export class RadialShape {
  private readonly r = new Float32Array(TABLE)
  private readonly slope = new Float32Array(TABLE)
  readonly cxPx: number
  readonly cyPx: number
  /** equivalent-disc radius in pixels */
  readonly equivalentRadius: number

  constructor(
    readonly params: ShapeParams,
    readonly size: number
  ) {
    const {axisRatio, harmonics, radius} = params
    for (let i = 0; i < TABLE; i++)
      this.r[i] = radius * size * rawRadius((2 * Math.PI * i) / TABLE, axisRatio, harmonics)
    for (let i = 0; i < TABLE; i++) {
      const d = (this.r[(i + 1) % TABLE] - this.r[(i + TABLE - 1) % TABLE]) / (2 * ((2 * Math.PI) / TABLE))
      // distance along the normal ≈ radial distance / sqrt(1 + (r'/r)²)
      this.slope[i] = 1 / Math.sqrt(1 + (d / Math.max(1e-6, this.r[i])) ** 2)
    }
    this.cxPx = params.cx * size
    this.cyPx = params.cy * size
    this.equivalentRadius = Math.sqrt(params.areaFraction / Math.PI) * size
  }

  radiusAt(theta: number): number {
    const t = ((theta % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)
    return this.r[Math.floor((t / (2 * Math.PI)) * TABLE) % TABLE]
  }

  signedDistance(px: number, py: number): number {
    const dx = px - this.cxPx,
      dy = py - this.cyPx
    const rho = Math.sqrt(dx * dx + dy * dy)
    let t = Math.atan2(dy, dx) - this.params.rotation
    t = ((t % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)
    const f = (t / (2 * Math.PI)) * TABLE
    const i0 = Math.floor(f) % TABLE,
      i1 = (i0 + 1) % TABLE,
      w = f - Math.floor(f)
    const r = this.r[i0] * (1 - w) + this.r[i1] * w
    return (rho - r) * this.slope[i0]
  }

  /** Signed distance at every pixel centre (row-major). */
  distanceField(): Float32Array {
    const n = this.size
    const out = new Float32Array(n * n)
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) out[y * n + x] = this.signedDistance(x + 0.5, y + 0.5)
    return out
  }
}

/** The mask is the outline itself (alpha 0.5 level), whatever the border blur. */
export function maskFromDistance(sd: Float32Array): Uint8Array {
  const m = new Uint8Array(sd.length)
  for (let i = 0; i < sd.length; i++) m[i] = sd[i] < 0 ? 1 : 0
  return m
}
