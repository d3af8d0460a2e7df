// A lesion mask estimated from the image alone, for images that come without one (generated
// samples in eval's controllability check, photographs without a segmentation). Not a
// segmentation model: colour distance from the background (the median colour of the image,
// ignoring an endoscope's dark vignette; for ultrasound, darkness below the tissue level),
// thresholded halfway between background and lesion (the level where a blended edge is half
// lesion, as a drawn mask would be) but never within the background's own spread; a 3×3
// opening that removes hair strands, then the largest connected component, holes filled.
//
// API: estimateMask(image, kind) -> Uint8Array (width*height, 0/1), all zero when nothing
// stands out from the background (e.g. BUSI `normal`).
import type {DatasetKind} from '../data/attributes.js'
import {rgbToLabPlanes} from '../data/colour.js'
import {boxBlur, median} from './measure-pixels.js'
import type {ImageInput} from './measure.js'

function morph(mask: Uint8Array, w: number, h: number, erode: boolean): Uint8Array {
  const out = new Uint8Array(mask.length)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let v = erode ? 1 : 0
      for (let dy = -1; dy <= 1 && v === (erode ? 1 : 0); dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = Math.min(w - 1, Math.max(0, x + dx)),
            yy = Math.min(h - 1, Math.max(0, y + dy))
          const m = mask[yy * w + xx]
          if (erode && !m) {
            v = 0
            break
          }
          if (!erode && m) {
            v = 1
            break
          }
        }
      out[y * w + x] = v
    }
  return out
}

/** Largest 4-connected component, with enclosed holes filled. */
function largestFilled(mask: Uint8Array, w: number, h: number): Uint8Array {
  const label = new Int32Array(mask.length).fill(-1)
  let best = -1,
    bestSize = 0,
    next = 0
  const stack: number[] = []
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i] || label[i] >= 0) continue
    let size = 0
    label[i] = next
    stack.push(i)
    while (stack.length) {
      const j = stack.pop()!
      size++
      const x = j % w,
        y = (j - x) / w
      for (const [xx, yy] of [
        [x - 1, y],
        [x + 1, y],
        [x, y - 1],
        [x, y + 1]
      ]) {
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue
        const k = yy * w + xx
        if (mask[k] && label[k] < 0) {
          label[k] = next
          stack.push(k)
        }
      }
    }
    if (size > bestSize) {
      bestSize = size
      best = next
    }
    next++
  }
  const out = new Uint8Array(mask.length)
  if (best < 0) return out
  // fill holes: background reachable from the frame stays background
  const outside = new Uint8Array(mask.length)
  for (let i = 0; i < mask.length; i++) {
    const x = i % w,
      y = (i - x) / w
    if ((x === 0 || y === 0 || x === w - 1 || y === h - 1) && label[i] !== best && !outside[i]) {
      outside[i] = 1
      stack.push(i)
      while (stack.length) {
        const j = stack.pop()!
        const jx = j % w,
          jy = (j - jx) / w
        for (const [xx, yy] of [
          [jx - 1, jy],
          [jx + 1, jy],
          [jx, jy - 1],
          [jx, jy + 1]
        ]) {
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue
          const k = yy * w + xx
          if (label[k] !== best && !outside[k]) {
            outside[k] = 1
            stack.push(k)
          }
        }
      }
    }
  }
  for (let i = 0; i < mask.length; i++) out[i] = outside[i] ? 0 : 1
  return out
}

/** Minimum colour distance (ΔE, or grey levels ×100) between lesion and background to call it a lesion. */
const MIN_SEPARATION = 6

export function estimateMask(image: ImageInput, kind: DatasetKind): Uint8Array {
  const {width: w, height: h} = image
  const n = w * h
  const c = image.channels ?? Math.round(image.data.length / n)
  const rgb = new Float32Array(n * 3)
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) rgb[3 * i + k] = image.data[i * c + Math.min(k, c - 1)]
  const {L, A, B} = rgbToLabPlanes(rgb, n)
  // speckle needs more smoothing than skin texture
  const passes = Math.max(1, Math.round(Math.min(w, h) / 64)) * (kind === 'ultrasound' ? 3 : 1)
  const l = boxBlur(L, w, h, passes),
    a = boxBlur(A, w, h, passes),
    b = boxBlur(B, w, h, passes)
  // Background: dermoscopy, the median colour of the image; polyp, the median of a ring just
  // inside the endoscope's dark vignette (a large polyp can fill the centre); ultrasound, the
  // 70th percentile of each row (tissue brightness falls with depth; masses are darker).
  const radius = (i: number) => Math.hypot(((i % w) + 0.5) / w - 0.5, (Math.floor(i / w) + 0.5) / h - 0.5)
  const idx: number[] = []
  for (let i = 0; i < n; i++) if (kind !== 'polyp' || radius(i) < 0.42) idx.push(i)
  const ring = kind === 'polyp' ? idx.filter(i => radius(i) > 0.32) : idx
  const bg = [median(ring.map(i => l[i])), median(ring.map(i => a[i])), median(ring.map(i => b[i]))]
  const rowLevel = new Float32Array(h)
  if (kind === 'ultrasound')
    for (let y = 0; y < h; y++) {
      const row = Array.from(l.subarray(y * w, (y + 1) * w)).sort((p, q) => p - q)
      rowLevel[y] = row[Math.floor(0.7 * (w - 1))]
    }
  const dist = new Float32Array(idx.length)
  idx.forEach((i, k) => {
    dist[k] =
      kind === 'ultrasound'
        ? Math.max(0, rowLevel[Math.floor(i / w)] - l[i])
        : Math.hypot(l[i] - bg[0], a[i] - bg[1], b[i] - bg[2])
  })
  // robust spread of the background (median + 3.5 MAD over the background sample, never
  // below MIN_SEPARATION): nothing within it counts as lesion
  const ringSet = kind === 'polyp' ? new Set(ring) : null
  const sample = ringSet ? Array.from(dist).filter((_, k) => ringSet.has(idx[k])) : Array.from(dist)
  const med = median(sample)
  const mad = median(sample.map(v => Math.abs(v - med)))
  const floor = Math.max(MIN_SEPARATION, med + 3.5 * 1.4826 * mad)
  const above: number[] = []
  for (const v of dist) if (v > floor) above.push(v)
  if (above.length < 0.005 * n) return new Uint8Array(n)
  const threshold = Math.max(floor, 0.5 * (med + median(above)))
  const raw = new Uint8Array(n)
  idx.forEach((i, k) => {
    raw[i] = dist[k] > threshold ? 1 : 0
  })
  const opened = morph(morph(raw, w, h, true), w, h, false)
  const mask = largestFilled(opened, w, h)
  let area = 0
  for (let i = 0; i < n; i++) area += mask[i]
  return area < 0.005 * n ? new Uint8Array(n) : mask
}
