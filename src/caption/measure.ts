// Measured attributes: what an image + lesion mask show, in the words of src/data/attributes.ts.
// Used by the "measured" captioner (paper §2.1 without a VLM) and by eval's controllability
// check (does a generated image show the attributes its prompt asked for?).
//
// API:
//   measureAttributes(image, mask, kind) -> {attributes, measures}
//     image: {data: Float32Array HWC in [0,1] (3 channels, or 1 for grey), width, height, channels?}
//     mask:  Uint8Array (width*height, nonzero = lesion) or null
//   attributes: Record<attribute name, vocabulary value>; anatomy is 'unknown' without a mask
//     and 'none' (with colour 'none') for an empty mask (BUSI normal).
//   measures: the numbers behind them (area fraction, eccentricity, solidity, symmetry, edge
//     width, colour fractions in CIELAB bins, texture statistics, speckle).
//   thresholds: the decision thresholds, calibrated on synth data (scripts/calibrate-measure.ts;
//     agreement with synth ground truth at 64 px is 94-100% per attribute, test/caption/measure.test.ts)
//   No mask at hand (a generated sample)? estimateMask(image, kind) in measure-segment.ts gives
//   one from colour contrast: good for dermoscopy and polyp, rough for ultrasound speckle.
//
// Everything is measured at a working resolution near 64 px on the short side (larger images
// are box-downsampled by an integer factor), so thresholds in pixels mean the same thing for
// a 64-px synth image and a 600×450 HAM10000 photograph.
import {NONE, UNKNOWN, attributeNamesOf, type Attributes, type DatasetKind} from '../data/attributes.js'
import {rgbToLabPlanes} from '../data/colour.js'
import {dermoscopyColours, echoThreshold, polypColours, type Lab} from '../data/palette.js'
import {measureShape, type ShapeMeasures} from './measure-shape.js'
import {boxBlur, darkStructure, edgeWidth, signedDistance, valleyDepth} from './measure-pixels.js'

export interface ImageInput {
  data: Float32Array
  width: number
  height: number
  channels?: number
}

export interface Measures {
  areaFraction: number | null
  eccentricity: number | null
  solidity: number | null
  irregularity: number | null
  symmetry: number | null
  /** edge ramp width as a fraction of the working image's short side */
  edgeWidth: number | null
  edgeContrast: number | null
  /** mean CIELAB of the lesion core (grey level ×100 in L for ultrasound) */
  meanLab: [number, number, number] | null
  /** share of lesion-core pixels nearest to each named colour */
  colourFractions: Record<string, number>
  /** standard deviation of ΔE to the core's mean colour */
  variegation: number | null
  darkFraction: number | null
  largestShare: number | null
  meanComponent: number | null
  residualStd: number | null
  /** ultrasound: speckle contrast (residual std / mean) of the background tissue */
  speckle: number | null
}

export interface Measurement {
  attributes: Attributes
  measures: Measures
}

/** Decision thresholds (calibrated on synth data at 64 px, see scripts/calibrate-measure.ts). */
export const thresholds = {
  /** solidity below this: irregular */
  irregularSolidity: 0.9,
  /** eccentricity above this (and solid): oval */
  ovalEccentricity: 0.62,
  /** best perpendicular-axes mirror IoU below this: asymmetric */
  symmetricIoU: 0.86,
  /** edge width (fraction of short side) above this: blurred */
  blurredEdge: 1.9 / 64,
  /** area fraction boundaries small|medium|large */
  sizeSmallBelow: 0.064,
  sizeLargeAbove: 0.16,
  /** second colour reported when it holds at least this share of the core */
  secondaryShare: 0.12,
  /** dermoscopy: dark-structure fraction below this: smooth */
  textureDarkFraction: 0.05,
  /** dermoscopy: largest dark component share above this: reticular (else dotted-globular) */
  reticularShare: 0.7,
  /** dermoscopy: a connected dark mesh must also cover this share of the lesion (a few dots can be "connected") */
  reticularMinFraction: 0.17,
  /** dermoscopy: dark structure this dense is a network even when fragmented */
  reticularFraction: 0.22,
  /** dermoscopy: valley depth (L units) of a dark texture pixel */
  valleyDepth: 4,
  /** dermoscopy: valley depth (L units) of a hair pixel (network lines and dots stay shallower) */
  hairValley: 10,
  /** polyp: share of 1-px valleys + ridges above this: granular */
  granularFraction: 0.015,
  /** ultrasound: background speckle contrast above this: high speckle */
  highSpeckle: 0.1
}

const WORKING = 64

function toWorking(
  image: ImageInput,
  mask: Uint8Array | null
): {rgb: Float32Array; mask: Uint8Array | null; w: number; h: number} {
  const c = image.channels ?? Math.round(image.data.length / (image.width * image.height))
  const f = Math.max(1, Math.round(Math.min(image.width, image.height) / WORKING))
  const w = Math.floor(image.width / f),
    h = Math.floor(image.height / f)
  const rgb = new Float32Array(w * h * 3)
  const m = mask ? new Uint8Array(w * h) : null
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let r = 0,
        g = 0,
        b = 0,
        mm = 0
      for (let dy = 0; dy < f; dy++)
        for (let dx = 0; dx < f; dx++) {
          const i = (y * f + dy) * image.width + x * f + dx
          r += image.data[i * c]
          g += image.data[i * c + (c >= 3 ? 1 : 0)]
          b += image.data[i * c + (c >= 3 ? 2 : 0)]
          if (mask && mask[i]) mm++
        }
      const o = y * w + x,
        k = f * f
      rgb[3 * o] = r / k
      rgb[3 * o + 1] = g / k
      rgb[3 * o + 2] = b / k
      if (m) m[o] = mm * 2 >= k ? 1 : 0
    }
  return {rgb, mask: m, w, h}
}

function emptyMeasures(): Measures {
  return {
    areaFraction: null,
    eccentricity: null,
    solidity: null,
    irregularity: null,
    symmetry: null,
    edgeWidth: null,
    edgeContrast: null,
    meanLab: null,
    colourFractions: {},
    variegation: null,
    darkFraction: null,
    largestShare: null,
    meanComponent: null,
    residualStd: null,
    speckle: null
  }
}

function anatomyFrom(s: ShapeMeasures, edge: number | null): Attributes {
  const t = thresholds
  return {
    shape: s.solidity < t.irregularSolidity ? 'irregular' : s.eccentricity > t.ovalEccentricity ? 'oval' : 'round',
    border: edge === null ? UNKNOWN : edge > t.blurredEdge ? 'blurred' : 'sharp',
    symmetry: s.symmetry < t.symmetricIoU ? 'asymmetric' : 'symmetric',
    size: s.areaFraction < t.sizeSmallBelow ? 'small' : s.areaFraction > t.sizeLargeAbove ? 'large' : 'medium'
  }
}

/** Nearest-prototype shares over the selected pixels (Lab after a light blur that averages out fine texture). */
function colourShares(
  L: Float32Array,
  A: Float32Array,
  B: Float32Array,
  select: Uint8Array,
  palette: Record<string, Lab>
): Record<string, number> {
  const names = Object.keys(palette)
  const counts = new Float64Array(names.length)
  let total = 0
  for (let i = 0; i < select.length; i++) {
    if (!select[i]) continue
    let best = 0,
      bestD = Infinity
    for (let k = 0; k < names.length; k++) {
      const p = palette[names[k]]
      const d = (L[i] - p[0]) ** 2 + (A[i] - p[1]) ** 2 + (B[i] - p[2]) ** 2
      if (d < bestD) {
        bestD = d
        best = k
      }
    }
    counts[best]++
    total++
  }
  return Object.fromEntries(names.map((n, k) => [n, total ? counts[k] / total : 0]))
}

/**
 * Hair (dermoscopy's usual distractor): thin dark lines (valleys deeper than
 * `thresholds.hairValley`) whose connected pieces reach well into the skin. Their pixels,
 * grown by one, are left out of colour, texture and edge statistics.
 */
export function hairMask(L: Float32Array, w: number, h: number, sd: Float32Array): Uint8Array | undefined {
  const valley = valleyDepth(L, w, h, 1)
  const dark = new Uint8Array(L.length)
  let any = false
  for (let i = 0; i < L.length; i++)
    if (valley[i] > thresholds.hairValley) {
      dark[i] = 1
      any = true
    }
  if (!any) return undefined
  const out = new Uint8Array(L.length)
  const seen = new Uint8Array(L.length)
  const stack: number[] = [],
    comp: number[] = []
  for (let i = 0; i < L.length; i++) {
    if (!dark[i] || seen[i]) continue
    comp.length = 0
    stack.push(i)
    seen[i] = 1
    let outside = 0
    while (stack.length) {
      const j = stack.pop()!
      comp.push(j)
      if (sd[j] > 1.5) outside++
      const x = j % w,
        y = (j - x) / w
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx,
            yy = y + dy,
            k = yy * w + xx
          if (xx >= 0 && yy >= 0 && xx < w && yy < h && dark[k] && !seen[k]) {
            seen[k] = 1
            stack.push(k)
          }
        }
    }
    if (outside < 3) continue
    for (const j of comp) {
      const x = j % w,
        y = (j - x) / w
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx,
            yy = y + dy
          if (xx >= 0 && yy >= 0 && xx < w && yy < h) out[yy * w + xx] = 1
        }
    }
  }
  return out
}

/**
 * The colour direction along which lesion and surroundings differ most plainly: Lab projected
 * on (mean outside - mean inside). A pink polyp on red mucosa differs more in a and b than in
 * lightness, so measuring the edge on L alone would lose it.
 */
function contrastChannel(
  lab: {L: Float32Array; A: Float32Array; B: Float32Array},
  sd: Float32Array,
  excluded?: Uint8Array
): Float32Array {
  const inside = [0, 0, 0],
    outside = [0, 0, 0]
  let ni = 0,
    no = 0
  for (let i = 0; i < sd.length; i++) {
    if (excluded && excluded[i]) continue
    if (sd[i] <= -2) {
      inside[0] += lab.L[i]
      inside[1] += lab.A[i]
      inside[2] += lab.B[i]
      ni++
    } else if (sd[i] >= 2 && sd[i] <= 6) {
      outside[0] += lab.L[i]
      outside[1] += lab.A[i]
      outside[2] += lab.B[i]
      no++
    }
  }
  if (ni === 0 || no === 0) return lab.L
  const d = [0, 1, 2].map(k => outside[k] / no - inside[k] / ni)
  const norm = Math.hypot(d[0], d[1], d[2])
  if (norm < 1e-6) return lab.L
  const u = d.map(v => v / norm)
  const out = new Float32Array(sd.length)
  for (let i = 0; i < out.length; i++) out[i] = u[0] * lab.L[i] + u[1] * lab.A[i] + u[2] * lab.B[i]
  return out
}

export function measureAttributes(image: ImageInput, mask: Uint8Array | null, kind: DatasetKind): Measurement {
  const {rgb, mask: m, w, h} = toWorking(image, mask)
  const n = w * h
  const measures = emptyMeasures()
  const attributes: Attributes = Object.fromEntries(attributeNamesOf(kind).map(a => [a, UNKNOWN]))
  const shape = m ? measureShape(m, w, h) : null
  const lab = kind === 'ultrasound' ? null : rgbToLabPlanes(rgb, n)
  const grey = new Float32Array(n)
  for (let i = 0; i < n; i++) grey[i] = lab ? lab.L[i] : (100 * (rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2])) / 3
  const sd = m && shape ? signedDistance(m, w, h) : null
  const side = Math.min(w, h)

  // Specular highlights (polyp) are saturated white spots; keep them out of every statistic.
  let highlight: Uint8Array | undefined
  if (kind === 'polyp' && lab) {
    highlight = new Uint8Array(n)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        if (lab.L[y * w + x] > 88) {
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const xx = x + dx,
                yy = y + dy
              if (xx >= 0 && yy >= 0 && xx < w && yy < h) highlight[yy * w + xx] = 1
            }
        }
  }

  const hair = kind === 'dermoscopy' && lab && sd ? hairMask(lab.L, w, h, sd) : undefined
  const excluded = highlight ?? hair

  let edgePx: number | null = null
  if (shape && sd) {
    const e = edgeWidth(lab ? contrastChannel(lab, sd, excluded) : grey, sd, excluded)
    edgePx = e ? e.width : null
    measures.edgeContrast = e ? e.contrast : null
    measures.edgeWidth = edgePx === null ? null : edgePx / side
    Object.assign(measures, {
      areaFraction: shape.areaFraction,
      eccentricity: shape.eccentricity,
      solidity: shape.solidity,
      irregularity: shape.irregularity,
      symmetry: shape.symmetry
    })
    Object.assign(attributes, anatomyFrom(shape, measures.edgeWidth))
  } else if (m) {
    for (const a of ['shape', 'border', 'symmetry', 'size']) attributes[a] = NONE
  }

  // Region for colour: the lesion core, deeper than the edge ramp; without a mask the
  // central half of the image.
  const core = new Uint8Array(n)
  const texRegion = new Uint8Array(n)
  if (sd) {
    const depth = Math.max(1, 0.6 * (edgePx ?? 1) + 0.5)
    let count = 0
    for (let i = 0; i < n; i++)
      if (sd[i] <= -depth && !(excluded && excluded[i])) {
        core[i] = 1
        count++
      }
    if (count < 6) for (let i = 0; i < n; i++) core[i] = m![i] && !(excluded && excluded[i]) ? 1 : 0
    const texDepth = Math.max(1.5, 0.5 * (edgePx ?? 1) + 1)
    for (let i = 0; i < n; i++) texRegion[i] = sd[i] <= -texDepth && !(excluded && excluded[i]) ? 1 : 0
  } else if (!m) {
    for (let y = Math.floor(h / 4); y < Math.ceil((3 * h) / 4); y++)
      for (let x = Math.floor(w / 4); x < Math.ceil((3 * w) / 4); x++) {
        core[y * w + x] = 1
        texRegion[y * w + x] = 1
      }
  }
  const coreCount = core.reduce((s, v) => s + v, 0)

  if (kind === 'ultrasound') {
    // Speckle contrast of the tissue away from the mass and below the skin line.
    const bg = new Uint8Array(n)
    for (let y = Math.ceil(0.1 * h); y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = y * w + x
        bg[i] = !sd || sd[i] >= 2 ? 1 : 0
      }
    const smooth = boxBlur(grey, w, h, 2)
    const st = darkStructure(grey, w, h, bg, 1e9)
    let mean = 0,
      c = 0
    for (let i = 0; i < n; i++)
      if (bg[i]) {
        mean += smooth[i]
        c++
      }
    mean = c ? mean / c : 0
    measures.residualStd = st.residualStd
    measures.speckle = mean > 0 ? st.residualStd / mean : 0
    attributes.texture = measures.speckle > thresholds.highSpeckle ? 'high speckle' : 'low speckle'
    if (sd && coreCount > 0) {
      let g = 0
      for (let i = 0; i < n; i++) if (core[i]) g += grey[i]
      g /= coreCount
      measures.meanLab = [g, 0, 0]
      attributes.colour = g / 100 < echoThreshold ? 'anechoic' : 'hypoechoic'
    } else if (m) attributes.colour = NONE
    return {attributes, measures}
  }

  const {L, A, B} = lab!
  if (coreCount > 0) {
    const bl = boxBlur(L, w, h, 2),
      ba = boxBlur(A, w, h, 2),
      bb = boxBlur(B, w, h, 2)
    const palette = kind === 'dermoscopy' ? dermoscopyColours : polypColours
    const shares = colourShares(bl, ba, bb, core, palette)
    measures.colourFractions = shares
    const ranked = Object.entries(shares).sort((x, y) => y[1] - x[1])
    attributes.colour = ranked[0][0]
    if (kind === 'dermoscopy')
      attributes.secondaryColour = ranked[1][1] >= thresholds.secondaryShare ? ranked[1][0] : NONE
    let mL = 0,
      mA = 0,
      mB = 0
    for (let i = 0; i < n; i++)
      if (core[i]) {
        mL += L[i]
        mA += A[i]
        mB += B[i]
      }
    mL /= coreCount
    mA /= coreCount
    mB /= coreCount
    measures.meanLab = [mL, mA, mB]
    let v = 0
    for (let i = 0; i < n; i++) if (core[i]) v += (L[i] - mL) ** 2 + (A[i] - mA) ** 2 + (B[i] - mB) ** 2
    measures.variegation = Math.sqrt(v / coreCount)
  }
  const texCount = texRegion.reduce((s, v) => s + v, 0)
  if (texCount > 0) {
    // Presence of fine dark structure from 1-px valleys (a step between two colour regions
    // is no valley); its organisation from valleys up to 2 px deep, which keep the lines of
    // a network connected while globules stay separate blobs.
    const fine = darkStructure(L, w, h, texRegion, thresholds.valleyDepth, 1)
    const st = darkStructure(L, w, h, texRegion, thresholds.valleyDepth, 2)
    measures.darkFraction = fine.darkFraction
    measures.largestShare = st.largestShare
    measures.residualStd = st.residualStd
    measures.meanComponent = st.meanComponent
    if (kind === 'dermoscopy') {
      attributes.texture =
        fine.darkFraction < thresholds.textureDarkFraction
          ? 'smooth'
          : (st.largestShare > thresholds.reticularShare && fine.darkFraction > thresholds.reticularMinFraction) ||
              (fine.darkFraction > thresholds.reticularFraction && st.largestShare > thresholds.reticularShare / 2)
            ? 'reticular'
            : 'dotted-globular'
    } else {
      // granular mucosa: small bumps, both darker and brighter than their surroundings
      const neg = new Float32Array(n)
      for (let i = 0; i < n; i++) neg[i] = -L[i]
      const bright = darkStructure(neg, w, h, texRegion, thresholds.valleyDepth, 1)
      measures.darkFraction = fine.darkFraction + bright.darkFraction
      attributes.texture = measures.darkFraction > thresholds.granularFraction ? 'granular' : 'smooth'
    }
  }
  return {attributes, measures}
}
