// Dermoscopy look-alike (HAM10000): skin background with tone variation, a pigmented lesion
// drawn from its attributes, an optional second colour region, a texture (reticular network,
// dots/globules or none), and hair strands on top as distractors (not in the mask).
import type {Rng} from '../../util/rng.js'
import type {Attributes} from '../attributes.js'
import {labPlanesToRgb8} from '../colour.js'
import {dermoscopyColours, type Lab} from '../palette.js'
import {RadialShape, drawShape, maskFromDistance, type Placement, type ShapeParams} from './shape.js'
import {clamp01, drawStrand, edgeAlpha, strandCoverage, valueNoise, type Strand} from './paint.js'

export interface DermoscopyParams {
  shape: ShapeParams
  /** edge ramp width as a fraction of the side */
  edgeWidth: number
  skin: Lab
  primary: Lab
  secondary: Lab | null
  /** second colour region: the side of the lesion beyond a line at `secondaryOffset` equivalent
   *  radii from the centre, in direction `secondaryAngle` (about a third of the lesion) */
  secondaryAngle: number
  secondaryOffset: number
  texture: {
    kind: string
    period: number
    angle: number
    lineWidth: number
    dots: Array<[number, number]>
    dotRadius: number
    depth: number
  }
  hair: Strand[]
  noiseSeed: number
}

export const edgeWidths: Record<string, [number, number]> = {sharp: [0.004, 0.012], blurred: [0.06, 0.085]}

const jitter = (c: Lab, rng: Rng, dl: number, dab: number): Lab => [
  c[0] + rng.range(-dl, dl),
  c[1] + rng.range(-dab, dab),
  c[2] + rng.range(-dab, dab)
]

export function drawDermoscopyParams(a: Attributes, rng: Rng, placement: Placement = 'anywhere'): DermoscopyParams {
  const shape = drawShape(a, rng, placement)
  const [wlo, whi] = edgeWidths[a.border] ?? edgeWidths.sharp
  const dots: Array<[number, number]> = []
  const dotRadius = rng.range(0.018, 0.024)
  if (a.texture === 'dotted-globular') {
    // globules spaced apart (rejection sampling, spacing in image units), so they stay
    // separate blobs at 64 px; positions in the lesion frame (unit equivalent radius)
    const spacing = (4.2 * dotRadius) / Math.sqrt(shape.areaFraction / Math.PI)
    for (let tries = 0; tries < 300 && dots.length < 16; tries++) {
      const r = Math.sqrt(rng.uniform()) * 0.85,
        t = rng.range(0, 2 * Math.PI),
        d: [number, number] = [r * Math.cos(t), r * Math.sin(t)]
      if (dots.every(([x, y]) => Math.hypot(x - d[0], y - d[1]) > spacing)) dots.push(d)
    }
  }
  const secondary =
    a.secondaryColour && a.secondaryColour !== 'none' ? jitter(dermoscopyColours[a.secondaryColour], rng, 3, 2) : null
  const hair: Strand[] = []
  if (rng.uniform() < 0.3) {
    const k = 1 + rng.int(3)
    for (let i = 0; i < k; i++) hair.push(drawStrand(rng, rng.range(0.008, 0.014), rng.range(0.5, 0.8)))
  }
  return {
    shape,
    edgeWidth: rng.range(wlo, whi),
    skin: [rng.range(68, 80), rng.range(8, 15), rng.range(13, 21)],
    primary: jitter(dermoscopyColours[a.colour] ?? dermoscopyColours['light brown'], rng, 3, 2),
    secondary,
    secondaryAngle: rng.range(0, 2 * Math.PI),
    secondaryOffset: rng.range(0.15, 0.3),
    texture: {
      kind: a.texture,
      period: rng.range(0.085, 0.1),
      angle: rng.range(0, Math.PI),
      lineWidth: rng.range(0.018, 0.024),
      dots,
      dotRadius,
      depth: rng.range(13, 17)
    },
    hair,
    noiseSeed: rng.nextUint32()
  }
}

export function renderDermoscopy(p: DermoscopyParams, size: number, rng: Rng): {rgb: Uint8Array; mask: Uint8Array} {
  const n = size * size
  const shape = new RadialShape(p.shape, size)
  const sd = shape.distanceField()
  const mask = maskFromDistance(sd)
  const req = shape.equivalentRadius
  const skinNoise = valueNoise(size, 4, rng)
  const lesionNoise = valueNoise(size, 3, rng)
  const warpU = valueNoise(size, 3, rng),
    warpV = valueNoise(size, 3, rng)
  const L = new Float32Array(n),
    A = new Float32Array(n),
    B = new Float32Array(n)
  const edgePx = p.edgeWidth * size
  const su = Math.cos(p.secondaryAngle),
    sv = Math.sin(p.secondaryAngle),
    sOff = p.secondaryOffset * req
  const t = p.texture
  const period = t.period * size,
    lineHalf = Math.max(0.5, (t.lineWidth * size) / 2)
  const cosA = Math.cos(t.angle),
    sinA = Math.sin(t.angle)
  const dotR = Math.max(0.8, t.dotRadius * size)
  const dots = t.dots.map(([dx, dy]) => [shape.cxPx + dx * req, shape.cyPx + dy * req])
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const i = y * size + x,
        px = x + 0.5,
        py = y + 0.5
      // skin with tone variation and a slight vignette
      const vig = ((px / size - 0.5) ** 2 + (py / size - 0.5) ** 2) * 10
      let l = p.skin[0] + 2.5 * skinNoise[i] - vig,
        aa = p.skin[1] + 1.2 * skinNoise[i],
        bb = p.skin[2]
      const alpha = edgeAlpha(sd[i], edgePx)
      if (alpha > 0) {
        let ll = p.primary[0],
          la = p.primary[1],
          lb = p.primary[2]
        if (p.secondary) {
          const s = clamp01((px - shape.cxPx) * su + (py - shape.cyPx) * sv - sOff + 0.5)
          ll += (p.secondary[0] - ll) * s
          la += (p.secondary[1] - la) * s
          lb += (p.secondary[2] - lb) * s
        }
        ll += 2 * lesionNoise[i]
        let dark = 0
        if (t.kind === 'reticular') {
          const u = ((px - shape.cxPx) * cosA + (py - shape.cyPx) * sinA) / period + 0.25 * warpU[i]
          const v = (-(px - shape.cxPx) * sinA + (py - shape.cyPx) * cosA) / period + 0.25 * warpV[i]
          const du = Math.abs(u - Math.round(u)) * period,
            dv = Math.abs(v - Math.round(v)) * period
          dark = clamp01(lineHalf + 0.5 - Math.min(du, dv))
        } else if (t.kind === 'dotted-globular') {
          for (const [dx, dy] of dots) {
            const c = clamp01(dotR + 0.5 - Math.hypot(px - dx, py - dy))
            if (c > dark) dark = c
          }
        }
        ll -= t.depth * dark
        la += 2 * dark
        l += (ll - l) * alpha
        aa += (la - aa) * alpha
        bb += (lb - bb) * alpha
      }
      L[i] = l
      A[i] = aa
      B[i] = bb
    }
  // hair strands on top: dark brown-black, never part of the mask
  if (p.hair.length > 0) {
    const cover = new Float32Array(n)
    for (const s of p.hair) strandCoverage(s, size, cover)
    for (let i = 0; i < n; i++)
      if (cover[i] > 0) {
        const c = cover[i]
        L[i] += (18 - L[i]) * c
        A[i] += (4 - A[i]) * c
        B[i] += (6 - B[i]) * c
      }
  }
  for (let i = 0; i < n; i++) L[i] += 0.6 * rng.normal()
  return {rgb: labPlanesToRgb8(L, A, B), mask}
}
