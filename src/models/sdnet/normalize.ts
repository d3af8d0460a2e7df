// SDNet's input normalisation, shared by training (stages/visual) and the standalone segmenter.

/**
 * Per-image min-max of all pixels jointly to [-1, 1], the authors' normalisation
 * (docs/REFERENCE.md §3.1; not x/127.5 - 1). `rgb` holds 0..255 values [size*size*3].
 */
export function minMaxNormalize(rgb: ArrayLike<number>, out: Float32Array, offset = 0): void {
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < rgb.length; i++) {
    const v = rgb[i]
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  const span = hi - lo
  for (let i = 0; i < rgb.length; i++) out[offset + i] = span > 0 ? ((rgb[i] - lo) / span) * 2 - 1 : 0
}
