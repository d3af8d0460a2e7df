// The per-image anatomy vector written to visual/features.safetensors, computed from the
// deterministic one-hot anatomy map (eval mode: argmax over the channels, docs/REFERENCE.md §4.2).
//   occupancy        the authors' vector: fraction of pixels in each channel, [K].
//   occupancy+shape  per channel k: [occupancy, compactness, elongation], [3K]. Deliberate
//                    extension: occupancy alone keeps lesion size but drops shape, so the text
//                    anatomy head trained against it cannot carry shape (docs/RESULTS.md,
//                    "Text alignment"). Both shape terms are scale-free and lie in [0, 1].
// Pure host code: no tfjs, so it can be tested on hand-drawn maps.

export type AnatomyVectorKind = 'occupancy' | 'occupancy+shape'

export interface ChannelShape {
  /** fraction of the image's pixels in the channel */
  occupancy: number
  /** 4*pi*area / perimeter^2 clipped to [0, 1]; perimeter = 4-neighbour edges to other channels or the border; 0 when empty */
  compactness: number
  /** 1 - sqrt(lambda_min / lambda_max) of the pixel-coordinate covariance; 0 below 2 pixels */
  elongation: number
}

export function anatomyVectorLength(kind: AnatomyVectorKind, channels: number): number {
  return kind === 'occupancy' ? channels : 3 * channels
}

/** Shape statistics of every channel of a label map (labels[y*w + x] in [0, channels)). */
export function channelShapes(labels: ArrayLike<number>, h: number, w: number, channels: number): ChannelShape[] {
  const count = new Float64Array(channels)
  const perimeter = new Float64Array(channels)
  const sx = new Float64Array(channels),
    sy = new Float64Array(channels)
  const sxx = new Float64Array(channels),
    syy = new Float64Array(channels),
    sxy = new Float64Array(channels)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = labels[y * w + x]
      if (k < 0 || k >= channels) throw new Error(`anatomy label ${k} outside [0, ${channels})`)
      count[k]++
      sx[k] += x
      sy[k] += y
      sxx[k] += x * x
      syy[k] += y * y
      sxy[k] += x * y
      // each edge to a different label or to the image border belongs to this pixel's boundary
      if (x === 0 || labels[y * w + x - 1] !== k) perimeter[k]++
      if (x === w - 1 || labels[y * w + x + 1] !== k) perimeter[k]++
      if (y === 0 || labels[(y - 1) * w + x] !== k) perimeter[k]++
      if (y === h - 1 || labels[(y + 1) * w + x] !== k) perimeter[k]++
    }
  }
  const out: ChannelShape[] = []
  for (let k = 0; k < channels; k++) {
    const n = count[k]
    const compactness = n > 0 ? Math.min(1, (4 * Math.PI * n) / (perimeter[k] * perimeter[k])) : 0
    let elongation = 0
    if (n >= 2) {
      const mx = sx[k] / n,
        my = sy[k] / n
      const cxx = sxx[k] / n - mx * mx,
        cyy = syy[k] / n - my * my,
        cxy = sxy[k] / n - mx * my
      const half = (cxx + cyy) / 2
      const root = Math.sqrt(Math.max(0, ((cxx - cyy) / 2) ** 2 + cxy * cxy))
      const max = half + root
      const min = Math.max(0, half - root)
      elongation = max > 0 ? 1 - Math.sqrt(min / max) : 0
    }
    out.push({occupancy: n / (h * w), compactness, elongation})
  }
  return out
}

/** The anatomy vector of one label map: [K] occupancy, or [3K] = per channel (occupancy, compactness, elongation). */
export function anatomyVector(
  labels: ArrayLike<number>,
  h: number,
  w: number,
  channels: number,
  kind: AnatomyVectorKind
): Float32Array {
  const shapes = channelShapes(labels, h, w, channels)
  if (kind === 'occupancy') return Float32Array.from(shapes, s => s.occupancy)
  const out = new Float32Array(3 * channels)
  shapes.forEach((s, k) => {
    out[3 * k] = s.occupancy
    out[3 * k + 1] = s.compactness
    out[3 * k + 2] = s.elongation
  })
  return out
}
