// sRGB <-> CIELAB (D65), the perceptual space synth paints colours in and measure reads
// them back in, so "dark brown" means the same thing on both sides.

const Xn = 0.95047,
  Yn = 1.0,
  Zn = 1.08883

function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4)
}
function linearToSrgb(c: number): number {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055
}
const fLab = (t: number): number => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116)
const fLabInv = (t: number): number => (t > 0.206893 ? t * t * t : (t - 16 / 116) / 7.787)

/** sRGB in [0,1] -> [L, a, b]. */
export function rgbToLab(r: number, g: number, b: number, out: number[] = [0, 0, 0]): number[] {
  const R = srgbToLinear(r),
    G = srgbToLinear(g),
    B = srgbToLinear(b)
  const x = fLab((0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / Xn)
  const y = fLab((0.2126729 * R + 0.7151522 * G + 0.072175 * B) / Yn)
  const z = fLab((0.0193339 * R + 0.119192 * G + 0.9503041 * B) / Zn)
  out[0] = 116 * y - 16
  out[1] = 500 * (x - y)
  out[2] = 200 * (y - z)
  return out
}

/** [L, a, b] -> sRGB in [0,1], clipped. */
export function labToRgb(L: number, a: number, b: number, out: number[] = [0, 0, 0]): number[] {
  const fy = (L + 16) / 116,
    fx = fy + a / 500,
    fz = fy - b / 200
  const X = Xn * fLabInv(fx),
    Y = Yn * fLabInv(fy),
    Z = Zn * fLabInv(fz)
  const R = 3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z
  const G = -0.969266 * X + 1.8760108 * Y + 0.041556 * Z
  const B = 0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z
  out[0] = Math.min(1, Math.max(0, linearToSrgb(Math.max(0, R))))
  out[1] = Math.min(1, Math.max(0, linearToSrgb(Math.max(0, G))))
  out[2] = Math.min(1, Math.max(0, linearToSrgb(Math.max(0, B))))
  return out
}

/** Converts a whole Lab plane triple (L, a, b arrays) to interleaved RGB uint8. */
export function labPlanesToRgb8(L: Float32Array, A: Float32Array, B: Float32Array): Uint8Array {
  const n = L.length
  const out = new Uint8Array(n * 3)
  const px = [0, 0, 0]
  for (let i = 0; i < n; i++) {
    labToRgb(L[i], A[i], B[i], px)
    out[3 * i] = Math.round(px[0] * 255)
    out[3 * i + 1] = Math.round(px[1] * 255)
    out[3 * i + 2] = Math.round(px[2] * 255)
  }
  return out
}

/** Converts interleaved RGB floats in [0,1] (HWC, 3 channels) to Lab planes. */
export function rgbToLabPlanes(
  rgb: Float32Array,
  n: number,
  channels = 3
): {L: Float32Array; A: Float32Array; B: Float32Array} {
  const L = new Float32Array(n),
    A = new Float32Array(n),
    B = new Float32Array(n)
  const px = [0, 0, 0]
  for (let i = 0; i < n; i++) {
    const o = i * channels
    const r = rgb[o],
      g = channels >= 3 ? rgb[o + 1] : r,
      b = channels >= 3 ? rgb[o + 2] : r
    rgbToLab(r, g, b, px)
    L[i] = px[0]
    A[i] = px[1]
    B[i] = px[2]
  }
  return {L, A, B}
}
