// Fixed embeddings of PixArt-alpha (golden README §1 steps 2-3): the 2-D sin-cos position
// table and the sinusoidal timestep projection. Both are computed on the host with the same
// float32/float64 rounding as diffusers v0.27.2, then uploaded; neither has parameters.
import * as tf from '@tensorflow/tfjs'

const f32 = Math.fround

/** emb_1d(d, pos) = [sin(pos*omega), cos(pos*omega)], omega_j = 1/10000^(j/(d/2)), float64. */
function sincos1d(dim: number, pos: number, out: Float32Array, offset: number): void {
  const half = dim / 2
  for (let j = 0; j < half; j++) {
    const omega = 1 / 10000 ** (j / half)
    out[offset + j] = Math.sin(pos * omega)
    out[offset + half + j] = Math.cos(pos * omega)
  }
}

/**
 * get_2d_sincos_pos_embed(dim, (gh, gw), base_size, interpolation_scale) as [gh*gw, dim]
 * (row-major over the patch grid). The grid coordinates are float32 in diffusers; the first
 * half of each row encodes the column (w) coordinate, the second half the row (h) coordinate.
 */
export function sincosPositionTable(dim: number, gridH: number, gridW: number, baseSize: number, interpolationScale: number): Float32Array {
  if (dim % 4 !== 0) throw new Error(`position embedding width ${dim} must be divisible by 4`)
  const out = new Float32Array(gridH * gridW * dim)
  const coord = (i: number, n: number): number => f32(f32(f32(i) / f32(n / baseSize)) / f32(interpolationScale))
  for (let i = 0; i < gridH; i++) {
    for (let j = 0; j < gridW; j++) {
      const row = (i * gridW + j) * dim
      sincos1d(dim / 2, coord(j, gridW), out, row)
      sincos1d(dim / 2, coord(i, gridH), out, row + dim / 2)
    }
  }
  return out
}

/**
 * diffusers get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=0),
 * reproducing torch's float32 arithmetic: [cos(t*f), sin(t*f)], f_j = exp(-ln(10000) j / 128).
 */
export function timestepProjection(timesteps: ArrayLike<number>, dim = 256, maxPeriod = 10000): Float32Array {
  const half = dim / 2
  const negLog = f32(-Math.log(maxPeriod))
  const freqs = new Float32Array(half)
  for (let j = 0; j < half; j++) freqs[j] = f32(Math.exp(f32(f32(negLog * j) / half)))
  const out = new Float32Array(timesteps.length * dim)
  for (let b = 0; b < timesteps.length; b++) {
    const t = f32(timesteps[b])
    for (let j = 0; j < half; j++) {
      const arg = f32(t * freqs[j])
      out[b * dim + j] = Math.cos(arg)
      out[b * dim + half + j] = Math.sin(arg)
    }
  }
  return out
}

/** [B,H,W,C] -> [B, (H/p)*(W/p), p*p*C], patches in (row, col, channel) order = HWIO kernel order. */
export function patchify(x: tf.Tensor4D, p: number): tf.Tensor3D {
  const [b, h, w, c] = x.shape
  const gh = h / p
  const gw = w / p
  return x.reshape([b, gh, p, gw, p, c]).transpose([0, 1, 3, 2, 4, 5]).reshape([b, gh * gw, p * p * c])
}

/** [B, h*w, p*p*C] -> [B, h*p, w*p, C]: diffusers' einsum "nhwpqc->nchpwq", kept channels-last. */
export function unpatchify(x: tf.Tensor3D, gridH: number, gridW: number, p: number, channels: number): tf.Tensor4D {
  const b = x.shape[0]
  return x.reshape([b, gridH, gridW, p, p, channels]).transpose([0, 1, 3, 2, 4, 5]).reshape([b, gridH * p, gridW * p, channels])
}
