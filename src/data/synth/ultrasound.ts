// Breast-ultrasound look-alike (BUSI): grey tissue layers with depth attenuation and
// multiplicative speckle (low or high), a bright skin line on top, and for benign/malignant
// a dark (anechoic or hypoechoic) mass of the drawn outline. `normal` has no mass and an
// empty mask, as in BUSI.
import type {Rng} from '../../util/rng.js'
import type {Attributes} from '../attributes.js'
import {ultrasoundEcho} from '../palette.js'
import {RadialShape, drawShape, maskFromDistance, type Placement, type ShapeParams} from './shape.js'
import {clamp01, edgeAlpha, noiseField, valueNoise} from './paint.js'
import {edgeWidths} from './dermoscopy.js'

export interface UltrasoundParams {
  shape: ShapeParams | null
  edgeWidth: number
  tissue: number
  lesionGrey: number
  speckle: number
  noiseSeed: number
}

export const speckleLevels: Record<string, [number, number]> = {
  'low speckle': [0.1, 0.16],
  'high speckle': [0.38, 0.48]
}

export function drawUltrasoundParams(a: Attributes, rng: Rng, placement: Placement = 'anywhere'): UltrasoundParams {
  const shape = a.shape === 'none' ? null : drawShape(a, rng, placement)
  const [wlo, whi] = edgeWidths[a.border] ?? edgeWidths.sharp
  const [slo, shi] = speckleLevels[a.texture] ?? speckleLevels['low speckle']
  return {
    shape,
    edgeWidth: rng.range(wlo, whi),
    tissue: rng.range(0.45, 0.6),
    lesionGrey: (ultrasoundEcho[a.colour] ?? ultrasoundEcho.hypoechoic) + rng.range(-0.02, 0.02),
    speckle: rng.range(slo, shi),
    noiseSeed: rng.nextUint32()
  }
}

export function renderUltrasound(p: UltrasoundParams, size: number, rng: Rng): {rgb: Uint8Array; mask: Uint8Array} {
  const n = size * size
  const shape = p.shape ? new RadialShape(p.shape, size) : null
  const sd = shape ? shape.distanceField() : null
  const mask = sd ? maskFromDistance(sd) : new Uint8Array(n)
  const layers = valueNoise(size, 5, rng)
  const speckle = noiseField(size, rng, true)
  const rgb = new Uint8Array(n * 3)
  const edgePx = p.edgeWidth * size
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const i = y * size + x
      const depth = (y + 0.5) / size
      let g = p.tissue * (1 - 0.35 * depth) + 0.08 * layers[i]
      if (depth < 0.06) g = 0.75
      let s = p.speckle
      if (sd) {
        const alpha = edgeAlpha(sd[i], edgePx)
        g += (p.lesionGrey - g) * alpha
        s *= 1 - 0.3 * alpha
      }
      const v = clamp01(g * Math.max(0, 1 + s * speckle[i]))
      rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = Math.round(v * 255)
    }
  return {rgb, mask}
}
