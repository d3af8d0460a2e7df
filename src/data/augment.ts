// Augmentations for training batches: flips and a random resized crop, applied to the image
// and its mask together. Seeded per item (run seed, epoch, position), so a resumed run sees
// exactly the same augmented pixels as an uninterrupted one.
import type {Rng} from '../util/rng.js'

export interface AugmentOptions {
  /** random horizontal and vertical flips (p = 0.5 each) */
  flip?: boolean
  /** random crop covering this fraction of the side at least (e.g. 0.85), resized back; 0 or 1 = off */
  crop?: number
}

/** Returns augmented copies (RGB uint8 HWC and 0/1 mask) of a size×size item. */
export function augmentItem(
  rgb: Uint8Array,
  mask: Uint8Array | null,
  size: number,
  opts: AugmentOptions,
  rng: Rng
): {rgb: Uint8Array; mask: Uint8Array | null} {
  const flipX = !!opts.flip && rng.uniform() < 0.5
  const flipY = !!opts.flip && rng.uniform() < 0.5
  const crop = opts.crop && opts.crop > 0 && opts.crop < 1
  const side = crop ? size * rng.range(opts.crop!, 1) : size
  const x0 = crop ? rng.range(0, size - side) : 0,
    y0 = crop ? rng.range(0, size - side) : 0
  if (!flipX && !flipY && !crop) return {rgb, mask}
  const outRgb = new Uint8Array(rgb.length)
  const outMask = mask ? new Uint8Array(mask.length) : null
  const scale = side / size
  for (let y = 0; y < size; y++) {
    const ty = flipY ? size - 1 - y : y
    const sy = Math.min(size - 1, Math.max(0, y0 + (ty + 0.5) * scale - 0.5))
    const iy = Math.min(size - 2, Math.floor(sy)),
      fy = size > 1 ? sy - iy : 0
    for (let x = 0; x < size; x++) {
      const tx = flipX ? size - 1 - x : x
      const sx = Math.min(size - 1, Math.max(0, x0 + (tx + 0.5) * scale - 0.5))
      const ix = Math.min(size - 2, Math.floor(sx)),
        fx = size > 1 ? sx - ix : 0
      const o = y * size + x
      for (let c = 0; c < 3; c++) {
        const a = rgb[(iy * size + ix) * 3 + c],
          b = rgb[(iy * size + ix + 1) * 3 + c]
        const d = rgb[((iy + 1) * size + ix) * 3 + c],
          e = rgb[((iy + 1) * size + ix + 1) * 3 + c]
        outRgb[o * 3 + c] = Math.round((a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy)
      }
      if (mask && outMask) outMask[o] = mask[Math.round(sy) * size + Math.round(sx)]
    }
  }
  return {rgb: outRgb, mask: outMask}
}
