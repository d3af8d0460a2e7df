// Mask geometry for measure.ts: area, second-moment eccentricity, solidity (area / convex
// hull area), boundary irregularity and mirror symmetry. All on a 0/1 mask, row-major.

export interface ShapeMeasures {
  area: number
  areaFraction: number
  centroid: [number, number]
  /** sqrt(1 - λ2/λ1) of the second central moments: 0 for a disc, → 1 for a line */
  eccentricity: number
  /** mask area / convex hull area (pixel-corrected) */
  solidity: number
  /** perimeter² / (4π area): 1 for a disc, larger for wiggly outlines */
  irregularity: number
  /** best over pairs of perpendicular mirror axes through the centroid of min(IoU) with the reflection */
  symmetry: number
}

export function measureShape(mask: Uint8Array, width: number, height: number): ShapeMeasures | null {
  let area = 0,
    sx = 0,
    sy = 0
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (mask[y * width + x]) {
        area++
        sx += x
        sy += y
      }
  if (area === 0) return null
  const cx = sx / area,
    cy = sy / area
  let mxx = 0,
    myy = 0,
    mxy = 0,
    perimeter = 0
  const hullPoints: Array<[number, number]> = []
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue
      const dx = x - cx,
        dy = y - cy
      mxx += dx * dx
      myy += dy * dy
      mxy += dx * dy
      const at = (xx: number, yy: number) =>
        xx >= 0 && yy >= 0 && xx < width && yy < height && mask[yy * width + xx] === 1
      const edges = (at(x - 1, y) ? 0 : 1) + (at(x + 1, y) ? 0 : 1) + (at(x, y - 1) ? 0 : 1) + (at(x, y + 1) ? 0 : 1)
      if (edges > 0) hullPoints.push([x, y])
      perimeter += edges
    }
  mxx /= area
  myy /= area
  mxy /= area
  const tr = mxx + myy,
    det = mxx * myy - mxy * mxy
  const disc = Math.sqrt(Math.max(0, (tr * tr) / 4 - det))
  const l1 = tr / 2 + disc,
    l2 = Math.max(0, tr / 2 - disc)
  const eccentricity = l1 > 0 ? Math.sqrt(Math.max(0, 1 - l2 / l1)) : 0
  // Hull of pixel centres, grown by half a pixel (Minkowski sum with a disc of radius ½:
  // + perimeter/2 + π/4) so that a digitised convex shape has solidity ≈ 1 at any size.
  const hull = convexHull(hullPoints)
  let hullArea = 0,
    hullPerimeter = 0
  for (let i = 0; i < hull.length; i++) {
    const [x1, y1] = hull[i],
      [x2, y2] = hull[(i + 1) % hull.length]
    hullArea += x1 * y2 - x2 * y1
    hullPerimeter += Math.hypot(x2 - x1, y2 - y1)
  }
  hullArea = Math.abs(hullArea) / 2 + hullPerimeter / 2 + Math.PI / 4
  // A 4-connected perimeter over-counts diagonal runs by 4/π on average.
  const perimeterEuclid = (perimeter * Math.PI) / 4
  return {
    area,
    areaFraction: area / (width * height),
    centroid: [cx, cy],
    eccentricity,
    solidity: Math.min(1, area / hullArea),
    irregularity: (perimeterEuclid * perimeterEuclid) / (4 * Math.PI * area),
    symmetry: mirrorSymmetry(mask, width, height, cx, cy, area)
  }
}

function convexHull(points: Array<[number, number]>): Array<[number, number]> {
  const pts = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1])
  if (pts.length < 3) return pts
  const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
  const lower: Array<[number, number]> = []
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop()
    lower.push(p)
  }
  const upper: Array<[number, number]> = []
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i]
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop()
    upper.push(p)
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1))
}

const AXES = 36

/**
 * Mirror symmetry: for axes through the centroid every 5°, the soft IoU of the mask with its
 * reflection (bilinear sampling). Dermoscopy's ABCD rule asks about symmetry along two
 * perpendicular axes, so a lesion scores min(IoU(φ), IoU(φ+90°)) maximised over φ. Scanning
 * angles (rather than trusting principal axes) keeps near-circular outlines, whose principal
 * axes are undefined, from scoring low by accident.
 */
function mirrorSymmetry(mask: Uint8Array, width: number, height: number, cx: number, cy: number, area: number): number {
  const iou = new Float64Array(AXES)
  const xs = new Float64Array(area),
    ys = new Float64Array(area)
  let p = 0
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (mask[y * width + x]) {
        xs[p] = x - cx
        ys[p] = y - cy
        p++
      }
  // padded copy so that bilinear sampling needs no bounds checks per neighbour
  const pw = width + 2,
    padded = new Uint8Array(pw * (height + 2))
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) padded[(y + 1) * pw + x + 1] = mask[y * width + x]
  for (let k = 0; k < AXES; k++) {
    const phi = (Math.PI * k) / AXES
    const c2 = Math.cos(2 * phi),
      s2 = Math.sin(2 * phi)
    let inter = 0
    for (let i = 0; i < p; i++) {
      // reflection about the line through the centroid at angle φ, sampled bilinearly
      const rx = c2 * xs[i] + s2 * ys[i] + cx + 1,
        ry = s2 * xs[i] - c2 * ys[i] + cy + 1
      if (rx < 0 || ry < 0 || rx >= width + 1 || ry >= height + 1) continue
      const x0 = Math.floor(rx),
        y0 = Math.floor(ry),
        fx = rx - x0,
        fy = ry - y0
      const o = y0 * pw + x0
      inter +=
        (padded[o] * (1 - fx) + padded[o + 1] * fx) * (1 - fy) +
        (padded[o + pw] * (1 - fx) + padded[o + pw + 1] * fx) * fy
    }
    iou[k] = inter / Math.max(1, 2 * area - inter)
  }
  let best = 0
  for (let k = 0; k < AXES / 2; k++) best = Math.max(best, Math.min(iou[k], iou[k + AXES / 2]))
  return best
}
