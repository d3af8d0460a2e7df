// The PixArt-alpha transformer, top to bottom (diffusers Transformer2DModel with norm_type
// "ada_norm_single", use_additional_conditions false; golden README §1, docs/REFERENCE.md §5.1):
// its parameters under their diffusers state_dict names, the fixed embeddings, attention, the
// transformer block, adaLN-single and the caption projection, the final layer and the forward
// pass. Activations are channels-last: the input latent/pixel batch is [B,H,W,C] and so is the
// output. Kept apart because they are not the model: the config and presets (./config.ts),
// loading a diffusers folder (./load.ts), gradient checkpointing (./checkpoint.ts), the
// `medgen forward` adapter (./forward.ts) and the layers shared with other models (../layers.ts).
import * as tf from '@tensorflow/tfjs'
import {innerDim, interpolationScale, type PixArtConfig} from './config.js'
import {checkpointed, type BlockFn} from './checkpoint.js'
import {geluTanh, layerNorm, linear, param, silu, type Weights} from '../layers.js'
import {trainableFromTorch, xavierUniformValues} from '../params.js'
import type {Rng} from '../../util/rng.js'

// ---- Parameters ---------------------------------------------------------------------------

/** Every parameter of the transformer with its PyTorch (state_dict) shape, in diffusers order. */
export function pixartParamShapes(c: PixArtConfig): Map<string, number[]> {
  const d = innerDim(c)
  const shapes = new Map<string, number[]>()
  const lin = (name: string, out: number, inp: number): void => {
    shapes.set(`${name}.weight`, [out, inp])
    shapes.set(`${name}.bias`, [out])
  }
  shapes.set('pos_embed.proj.weight', [d, c.in_channels, c.patch_size, c.patch_size])
  shapes.set('pos_embed.proj.bias', [d])
  for (let i = 0; i < c.num_layers; i++) {
    const b = `transformer_blocks.${i}`
    for (const attn of ['attn1', 'attn2']) {
      const kv = attn === 'attn1' ? d : c.cross_attention_dim
      lin(`${b}.${attn}.to_q`, d, d)
      lin(`${b}.${attn}.to_k`, d, kv)
      lin(`${b}.${attn}.to_v`, d, kv)
      lin(`${b}.${attn}.to_out.0`, d, d)
    }
    lin(`${b}.ff.net.0.proj`, 4 * d, d)
    lin(`${b}.ff.net.2`, d, 4 * d)
    shapes.set(`${b}.scale_shift_table`, [6, d])
  }
  shapes.set('scale_shift_table', [2, d])
  lin('proj_out', c.patch_size * c.patch_size * c.out_channels, d)
  lin('adaln_single.emb.timestep_embedder.linear_1', d, 256)
  lin('adaln_single.emb.timestep_embedder.linear_2', d, d)
  lin('adaln_single.linear', 6 * d, d)
  lin('caption_projection.linear_1', d, c.caption_channels)
  lin('caption_projection.linear_2', d, d)
  return shapes
}

/** Parameter count from shapes alone (nothing allocated). */
export function countPixArtParams(c: PixArtConfig): number {
  let n = 0
  for (const s of pixartParamShapes(c).values()) n += s.reduce((a, b) => a * b, 1)
  return n
}

/**
 * Seeded init for training from scratch, following DiT/PixArt's initialize_weights: Xavier-
 * uniform Linear weights, zero biases, patch conv Xavier on its flattened view, timestep MLP
 * N(0, 0.02^2), zero-initialised adaLN modulation outputs, output projection and gates, so
 * each block starts as the identity (DiT "adaLN-Zero"). Scale/shift tables start at N(0,1)/sqrt(D) as diffusers.
 */
export function initPixArtParams(cfg: PixArtConfig, rng: Rng): Map<string, tf.Variable> {
  const params = new Map<string, tf.Variable>()
  const d = cfg.num_attention_heads * cfg.attention_head_dim
  for (const [name, shape] of pixartParamShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1)
    let values: Float32Array
    if (name.endsWith('.bias')) values = new Float32Array(n)
    else if (name.endsWith('scale_shift_table')) values = rng.normalArray(n, 1 / Math.sqrt(d))
    else if (name.startsWith('adaln_single.emb.timestep_embedder') || name.startsWith('caption_projection'))
      values = rng.normalArray(n, 0.02)
    else if (name === 'proj_out.weight' || name === 'adaln_single.linear.weight') values = new Float32Array(n)
    else values = xavierUniformValues(n, n / shape[0], shape[0], rng)
    params.set(name, trainableFromTorch(name, shape, values))
  }
  return params
}

// ---- Fixed embeddings (golden README §1 steps 2-3) ------------------------------------------
// Neither has parameters; both are computed on the host with the same float32/float64
// rounding as diffusers v0.27.2, then uploaded.

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
function sincosPositionTable(
  dim: number,
  gridH: number,
  gridW: number,
  baseSize: number,
  interpolationScale: number
): Float32Array {
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

const positionCache = new Map<string, Float32Array>()

/** The position table for a gh x gw patch grid; recomputed (same base size) for other grids. */
export function positionTable(cfg: PixArtConfig, gridH: number, gridW: number): Float32Array {
  const baseSize = cfg.sample_size / cfg.patch_size
  const key = `${innerDim(cfg)}:${gridH}:${gridW}:${baseSize}:${interpolationScale(cfg)}`
  let table = positionCache.get(key)
  if (!table) {
    table = sincosPositionTable(innerDim(cfg), gridH, gridW, baseSize, interpolationScale(cfg))
    positionCache.set(key, table)
  }
  return table
}

/**
 * diffusers get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=0),
 * reproducing torch's float32 arithmetic: [cos(t*f), sin(t*f)], f_j = exp(-ln(10000) j / 128).
 */
function timestepProjection(timesteps: ArrayLike<number>, dim = 256, maxPeriod = 10000): Float32Array {
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

// ---- Patches ------------------------------------------------------------------------------

/** [B,H,W,C] -> [B, (H/p)*(W/p), p*p*C], patches in (row, col, channel) order = HWIO kernel order. */
function patchify(x: tf.Tensor4D, p: number): tf.Tensor3D {
  const [b, h, w, c] = x.shape
  const gh = h / p
  const gw = w / p
  return x
    .reshape([b, gh, p, gw, p, c])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([b, gh * gw, p * p * c])
}

/** [B, h*w, p*p*C] -> [B, h*p, w*p, C]: diffusers' einsum "nhwpqc->nchpwq", kept channels-last. */
function unpatchify(x: tf.Tensor3D, gridH: number, gridW: number, p: number, channels: number): tf.Tensor4D {
  const b = x.shape[0]
  return x
    .reshape([b, gridH, gridW, p, p, channels])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([b, gridH * p, gridW * p, channels])
}

// ---- Attention and the transformer block --------------------------------------------------

/**
 * diffusers Attention with AttnProcessor: q from x, k/v from ctx (x for self-attention),
 * scores q k^T / sqrt(head_dim) + bias (bias [B,1,M] broadcast over heads and queries),
 * softmax over keys, then `to_out.0`.
 */
function attention(
  w: Weights,
  path: string,
  x: tf.Tensor3D,
  ctx: tf.Tensor3D,
  bias: tf.Tensor | null,
  heads: number,
  headDim: number
): tf.Tensor3D {
  const [b, n] = x.shape
  const m = ctx.shape[1]
  const split = (t: tf.Tensor, len: number): tf.Tensor4D =>
    t.reshape([b, len, heads, headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D
  const q = split(linear(w, `${path}.to_q`, x), n)
  const k = split(linear(w, `${path}.to_k`, ctx), m)
  const v = split(linear(w, `${path}.to_v`, ctx), m)
  // q is scaled rather than the scores: the same product, but the tape then keeps a [b,h,n,d]
  // tensor instead of a second [b,h,n,m] one (bench-small at batch 8 ran out of wasm memory)
  let scores: tf.Tensor = tf.matMul(q.mul(1 / Math.sqrt(headDim)), k, false, true)
  if (bias) scores = scores.add(bias.reshape([b, 1, 1, m]))
  const probs = tf.softmax(scores, -1)
  const out = tf
    .matMul(probs as tf.Tensor4D, v)
    .transpose([0, 2, 1, 3])
    .reshape([b, n, heads * headDim])
  return linear(w, `${path}.to_out.0`, out) as tf.Tensor3D
}

/** One BasicTransformerBlock with norm_type "ada_norm_single" (golden README §1 step 5, docs/REFERENCE.md §5.1). */
function pixartBlock(
  w: Weights,
  cfg: PixArtConfig,
  i: number,
  x: tf.Tensor3D,
  t6: tf.Tensor2D,
  ctx: tf.Tensor3D,
  bias: tf.Tensor | null
): tf.Tensor3D {
  const d = innerDim(cfg)
  const b = x.shape[0]
  const path = `transformer_blocks.${i}`
  const mod = param(w, `${path}.scale_shift_table`)
    .expandDims(0)
    .add(t6.reshape([b, 6, d]))
  const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = tf.split(mod, 6, 1)
  const heads = cfg.num_attention_heads
  const hd = cfg.attention_head_dim
  const h1 = layerNorm(x, cfg.norm_eps).mul(scaleMsa.add(1)).add(shiftMsa) as tf.Tensor3D
  x = x.add(gateMsa.mul(attention(w, `${path}.attn1`, h1, h1, null, heads, hd)))
  // PixArt: no norm and no gate around cross-attention.
  x = x.add(attention(w, `${path}.attn2`, x, ctx, bias, heads, hd))
  const h2 = layerNorm(x, cfg.norm_eps).mul(scaleMlp.add(1)).add(shiftMlp)
  const ff = linear(w, `${path}.ff.net.2`, geluTanh(linear(w, `${path}.ff.net.0.proj`, h2)))
  return x.add(gateMlp.mul(ff)) as tf.Tensor3D
}

// ---- Conditioning: adaLN-single (timestep) and the caption projection ---------------------

/** adaLN-single: returns [B,6D] modulation and the embedded timestep [B,D]. */
function adaLNSingle(
  w: Weights,
  timesteps: ArrayLike<number>
): {t6: tf.Tensor2D; embedded: tf.Tensor2D; proj: tf.Tensor2D} {
  const proj = tf.tensor2d(timestepProjection(timesteps), [timesteps.length, 256])
  const hidden = silu(linear(w, 'adaln_single.emb.timestep_embedder.linear_1', proj))
  const embedded = linear(w, 'adaln_single.emb.timestep_embedder.linear_2', hidden) as tf.Tensor2D
  const t6 = linear(w, 'adaln_single.linear', silu(embedded)) as tf.Tensor2D
  return {t6, embedded, proj}
}

/** PixArtAlphaTextProjection: Linear, GELU (tanh), Linear, from caption_channels to inner_dim. */
function captionProjection(w: Weights, context: tf.Tensor3D): tf.Tensor3D {
  return linear(
    w,
    'caption_projection.linear_2',
    geluTanh(linear(w, 'caption_projection.linear_1', context))
  ) as tf.Tensor3D
}

// ---- The forward pass ---------------------------------------------------------------------

export interface PixArtInputs {
  /** noisy sample [B,H,W,in_channels] */
  x: tf.Tensor4D
  /** one diffusion timestep per batch row (or one for all) */
  timesteps: number | ArrayLike<number>
  /** condition tokens [B,L,caption_channels] (encoder_hidden_states) */
  context: tf.Tensor3D
  /** [B,L], 1 = keep, 0 = pad; absent = all kept */
  mask?: tf.Tensor2D | null
  /** recompute each block in the backward pass instead of keeping its activations (./checkpoint.ts) */
  checkpointBlocks?: boolean
}

export interface PixArtResult {
  /** [B,H,W,out_channels]: epsilon in the first in_channels, the learned-sigma head after */
  sample: tf.Tensor4D
  /** named intermediates (golden fixture names), only when requested */
  intermediates: Map<string, tf.Tensor>
}

/**
 * The full transformer. Call inside tf.tidy (or dispose the result): every intermediate is a
 * fresh tensor. `capture` keeps the golden-fixture intermediates in the result.
 */
export function pixartForward(w: Weights, cfg: PixArtConfig, inp: PixArtInputs, capture = false): PixArtResult {
  const inter = new Map<string, tf.Tensor>()
  const keep = (name: string, t: tf.Tensor): void => {
    if (capture) inter.set(name, t)
  }
  const [b, height, width, channels] = inp.x.shape
  const p = cfg.patch_size
  if (channels !== cfg.in_channels)
    throw new Error(`PixArt input has ${channels} channels, config in_channels is ${cfg.in_channels}`)
  if (height % p !== 0 || width % p !== 0)
    throw new Error(`PixArt input ${height}x${width} is not divisible by patch_size ${p}`)
  const gh = height / p
  const gw = width / p
  const d = innerDim(cfg)

  const bias = inp.mask ? tf.scalar(1).sub(inp.mask.toFloat()).mul(-10000).reshape([b, 1, -1]) : null
  // pos_embed: the patch conv (kernel = stride = p) is a Linear on patchified input
  const pos = tf.tensor3d(positionTable(cfg, gh, gw), [1, gh * gw, d])
  let x = linear(w, 'pos_embed.proj', patchify(inp.x, p)).add(pos) as tf.Tensor3D
  keep('inter.patch_embed', x)

  const ts = typeof inp.timesteps === 'number' ? new Array(b).fill(inp.timesteps) : Array.from(inp.timesteps)
  if (ts.length !== b) throw new Error(`PixArt got ${ts.length} timesteps for a batch of ${b}`)
  const {t6, embedded, proj} = adaLNSingle(w, ts)
  keep('inter.timestep_proj', proj)
  keep('inter.embedded_timestep', embedded)
  keep('inter.adaln_single_out', t6)

  const ctx = captionProjection(w, inp.context)
  keep('inter.caption_projection', ctx)

  for (let i = 0; i < cfg.num_layers; i++) {
    const block: BlockFn = (wb, xb, t6b, ctxb, biasb) => pixartBlock(wb, cfg, i, xb, t6b, ctxb, biasb)
    // Each block in a tidy of its own: a caller's tidy around the whole forward would otherwise keep
    // every block's intermediates until the end (PixArt-XL-2 at 256 px: ~1.4 GB over the weights;
    // at 512 px past the 4 GB wasm heap). A gradient tape keeps what it needs (tfjs saves a kept copy).
    const input = x
    x = inp.checkpointBlocks
      ? checkpointed(block, `transformer_blocks.${i}.`)(w, x, t6, ctx, bias)
      : tf.tidy(() => block(w, input, t6, ctx, bias))
    keep(`inter.block_${i}`, x)
  }

  // final layer: non-affine norm, modulation by the embedded timestep (no MLP), proj_out
  const [shift, scale] = tf.split(param(w, 'scale_shift_table').expandDims(0).add(embedded.expandDims(1)), 2, 1)
  const out = linear(w, 'proj_out', layerNorm(x, 1e-6).mul(scale.add(1)).add(shift)) as tf.Tensor3D
  keep('inter.proj_out', out)
  return {sample: unpatchify(out, gh, gw, p, cfg.out_channels), intermediates: inter}
}
