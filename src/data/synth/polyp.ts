// Polyp look-alike (Kvasir-SEG): orange-red mucosa with shading, folds and a dark endoscope
// vignette; a dome-shaded polyp of the drawn outline and colour, optionally granular; small
// specular highlights (saturated white, inside the polyp) as distractors.
import type {Rng} from '../../util/rng.js'
import type {Attributes} from '../attributes.js'
import {labPlanesToRgb8} from '../colour.js'
import {polypColours, type Lab} from '../palette.js'
import {RadialShape, drawShape, maskFromDistance, type Placement, type ShapeParams} from './shape.js'
import {clamp01, drawStrand, edgeAlpha, strandCoverage, valueNoise, type Strand} from './paint.js'
import {edgeWidths} from './dermoscopy.js'

export interface PolypParams {
  shape: ShapeParams
  edgeWidth: number
  mucosa: Lab
  colour: Lab
  granular: boolean
  bumps: Array<[number, number, number]>
  highlights: Array<[number, number, number]>
  folds: Strand[]
  noiseSeed: number
}

export function drawPolypParams(a: Attributes, rng: Rng, placement: Placement = 'anywhere'): PolypParams {
  const shape = drawShape(a, rng, placement)
  const [wlo, whi] = edgeWidths[a.border] ?? edgeWidths.sharp
  const c = polypColours[a.colour] ?? polypColours.pink
  const bumps: Array<[number, number, number]> = []
  if (a.texture === 'granular')
    for (let i = 0; i < 22; i++) {
      const r = Math.sqrt(rng.uniform()) * 0.95,
        t = rng.range(0, 2 * Math.PI)
      bumps.push([r * Math.cos(t), r * Math.sin(t), rng.uniform() < 0.5 ? -1 : 1])
    }
  const highlights: Array<[number, number, number]> = []
  for (let i = 0, k = 1 + rng.int(2); i < k; i++)
    highlights.push([rng.range(-0.4, 0.4), rng.range(-0.4, 0.4), rng.range(0.012, 0.02)])
  const folds: Strand[] = []
  for (let i = 0, k = rng.int(3); i < k; i++) folds.push(drawStrand(rng, rng.range(0.02, 0.035), rng.range(0.25, 0.4)))
  return {
    shape,
    edgeWidth: rng.range(wlo, whi),
    mucosa: [rng.range(52, 60), rng.range(30, 36), rng.range(30, 38)],
    colour: [c[0] + rng.range(-3, 3), c[1] + rng.range(-2, 2), c[2] + rng.range(-2, 2)],
    granular: a.texture === 'granular',
    bumps,
    highlights,
    folds,
    noiseSeed: rng.nextUint32()
  }
}

export function renderPolyp(p: PolypParams, size: number, rng: Rng): {rgb: Uint8Array; mask: Uint8Array} {
  const n = size * size
  const shape = new RadialShape(p.shape, size)
  const sd = shape.distanceField()
  const mask = maskFromDistance(sd)
  const req = shape.equivalentRadius
  const shade = valueNoise(size, 3, rng)
  const folds = new Float32Array(n)
  for (const f of p.folds) strandCoverage(f, size, folds)
  const L = new Float32Array(n),
    A = new Float32Array(n),
    B = new Float32Array(n)
  const edgePx = p.edgeWidth * size
  const bumpR = Math.max(0.8, 0.02 * size)
  const bumps = p.bumps.map(([dx, dy, s]) => [shape.cxPx + dx * req, shape.cyPx + dy * req, s])
  const highlights = p.highlights.map(([dx, dy, r]) => [
    shape.cxPx + dx * req,
    shape.cyPx + dy * req,
    Math.max(0.7, r * size)
  ])
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const i = y * size + x,
        px = x + 0.5,
        py = y + 0.5
      const rr = Math.hypot(px / size - 0.5, py / size - 0.5)
      const vignette = clamp01((rr - 0.45) / 0.25) * 35
      let l = p.mucosa[0] + 4 * shade[i] - vignette - 10 * folds[i],
        aa = p.mucosa[1] - 3 * folds[i],
        bb = p.mucosa[2]
      const alpha = edgeAlpha(sd[i], edgePx)
      if (alpha > 0) {
        const dome = clamp01(-sd[i] / Math.max(1, req)) // brighter towards the top of the dome
        let ll = p.colour[0] + 4 * dome
        if (p.granular)
          for (const [bx, by, s] of bumps) {
            const c = clamp01(bumpR + 0.5 - Math.hypot(px - bx, py - by))
            if (c > 0) ll += 9 * s * c
          }
        l += (ll - l) * alpha
        aa += (p.colour[1] - aa) * alpha
        bb += (p.colour[2] - bb) * alpha
      }
      for (const [hx, hy, hr] of highlights) {
        const c = clamp01(hr + 0.5 - Math.hypot(px - hx, py - hy))
        if (c > 0) {
          l += (98 - l) * c
          aa *= 1 - c
          bb *= 1 - c
        }
      }
      L[i] = l + 0.6 * rng.normal()
      A[i] = aa
      B[i] = bb
    }
  return {rgb: labPlanesToRgb8(L, A, B), mask}
}
