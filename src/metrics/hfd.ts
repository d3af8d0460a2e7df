// `hfd`: one of medgen's two readings of the paper's undefined HFD (docs/REFERENCE.md §7,
// docs/DESIGN.md "Metrics"): the Fréchet distance between the high-frequency parts of the
// radially averaged log power spectra of real and generated images. No weights needed.
// Per image: greyscale (ITU-R 601 luma), resized to `size` (a power of two), mean removed,
// 2-D DFT, |F|², averaged over rings of integer radius r = 0..size/2, log(ε + ·); the feature
// vector is the rings with r/(size/2) in [bandLow, bandHigh]. The other reading, `dfd`, is FD in
// the classify model's penultimate features (src/stages/eval/dfd.ts).

/** In-place iterative radix-2 complex FFT of length n (power of two). */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length
  if ((n & (n - 1)) !== 0) throw new Error(`fft length ${n} is not a power of two`)
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1
    for (; j & bit; bit >>= 1) j ^= bit
    j ^= bit
    if (i < j) {
      let t = re[i]
      re[i] = re[j]
      re[j] = t
      t = im[i]
      im[i] = im[j]
      im[j] = t
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len
    const wr = Math.cos(ang),
      wi = Math.sin(ang)
    for (let i = 0; i < n; i += len) {
      let cr = 1,
        ci = 0
      for (let k = 0; k < len / 2; k++) {
        const a = i + k,
          b = a + len / 2
        const xr = re[b] * cr - im[b] * ci,
          xi = re[b] * ci + im[b] * cr
        re[b] = re[a] - xr
        im[b] = im[a] - xi
        re[a] += xr
        im[a] += xi
        const nr = cr * wr - ci * wi
        ci = cr * wi + ci * wr
        cr = nr
      }
    }
  }
}

/** Power spectrum |F|² of a real size x size image (row-major), via row then column FFTs. */
export function powerSpectrum2d(img: Float64Array, size: number): Float64Array {
  const re = Float64Array.from(img),
    im = new Float64Array(size * size)
  const rr = new Float64Array(size),
    ri = new Float64Array(size)
  for (let y = 0; y < size; y++) {
    rr.set(re.subarray(y * size, (y + 1) * size))
    ri.fill(0)
    fft(rr, ri)
    re.set(rr, y * size)
    im.set(ri, y * size)
  }
  for (let x = 0; x < size; x++) {
    for (let y = 0; y < size; y++) {
      rr[y] = re[y * size + x]
      ri[y] = im[y * size + x]
    }
    fft(rr, ri)
    for (let y = 0; y < size; y++) {
      re[y * size + x] = rr[y]
      im[y * size + x] = ri[y]
    }
  }
  const p = new Float64Array(size * size)
  for (let i = 0; i < p.length; i++) p[i] = (re[i] * re[i] + im[i] * im[i]) / (size * size)
  return p
}

export interface SpectrumOptions {
  size: number
  bandLow: number
  bandHigh: number
}

/** Rings of integer radius kept by the band. */
export function bandRings(opts: SpectrumOptions): number[] {
  const half = opts.size / 2
  const rings: number[] = []
  for (let r = 0; r <= half; r++) if (r / half >= opts.bandLow && r / half <= opts.bandHigh) rings.push(r)
  return rings
}

/** High-frequency log power feature of one RGB image already resized to size x size (uint8). */
export function spectralFeature(rgb: Uint8Array, opts: SpectrumOptions): Float64Array {
  const {size} = opts
  const grey = new Float64Array(size * size)
  let mean = 0
  for (let i = 0; i < grey.length; i++) {
    grey[i] = (0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]) / 255
    mean += grey[i]
  }
  mean /= grey.length
  for (let i = 0; i < grey.length; i++) grey[i] -= mean
  const p = powerSpectrum2d(grey, size)
  const half = size / 2
  const sum = new Float64Array(half + 1),
    count = new Float64Array(half + 1)
  for (let y = 0; y < size; y++) {
    const fy = y <= half ? y : y - size
    for (let x = 0; x < size; x++) {
      const fx = x <= half ? x : x - size
      const r = Math.round(Math.hypot(fx, fy))
      if (r <= half) {
        sum[r] += p[y * size + x]
        count[r]++
      }
    }
  }
  const rings = bandRings(opts)
  return Float64Array.from(rings, r => Math.log(1e-10 + sum[r] / count[r]))
}

export const hfdDefinition = (o: SpectrumOptions): string =>
  `Fréchet distance between Gaussians fitted to per-image high-frequency log power spectra: greyscale, resized to ${o.size}x${o.size}, ` +
  `mean removed, 2-D DFT, |F|² averaged over rings of integer radius, log(1e-10 + ·), rings with r/${o.size / 2} in [${o.bandLow}, ${o.bandHigh}] ` +
  `(${bandRings(o).length} dimensions). One of two readings of the paper's undefined HFD (docs/REFERENCE.md §7); no weights.`
