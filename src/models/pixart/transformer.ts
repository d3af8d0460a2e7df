// PixArt-alpha transformer forward pass (diffusers Transformer2DModel, norm_type
// "ada_norm_single", use_additional_conditions false; golden README §1, docs/REFERENCE.md §5.1).
// Activations are channels-last: the input latent/pixel batch is [B,H,W,C] and so is the output.
import * as tf from '@tensorflow/tfjs'
import {innerDim, interpolationScale, type PixArtConfig} from './config.js'
import {patchify, sincosPositionTable, timestepProjection, unpatchify} from './embeddings.js'
import {geluTanh, layerNorm, linear, param, silu, type Weights} from './layers.js'
import {pixartBlock} from './block.js'
import {checkpointedPixartBlock} from './checkpoint.js'

export {pixartBlock}

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

/** adaLN-single: returns [B,6D] modulation and the embedded timestep [B,D]. */
export function adaLNSingle(w: Weights, timesteps: ArrayLike<number>): {t6: tf.Tensor2D, embedded: tf.Tensor2D, proj: tf.Tensor2D} {
  const proj = tf.tensor2d(timestepProjection(timesteps), [timesteps.length, 256])
  const hidden = silu(linear(w, 'adaln_single.emb.timestep_embedder.linear_1', proj))
  const embedded = linear(w, 'adaln_single.emb.timestep_embedder.linear_2', hidden) as tf.Tensor2D
  const t6 = linear(w, 'adaln_single.linear', silu(embedded)) as tf.Tensor2D
  return {t6, embedded, proj}
}

/**
 * The full transformer. Call inside tf.tidy (or dispose the result): every intermediate is a
 * fresh tensor. `capture` keeps the golden-fixture intermediates in the result.
 */
export function pixartForward(w: Weights, cfg: PixArtConfig, inp: PixArtInputs, capture = false): PixArtResult {
  const inter = new Map<string, tf.Tensor>()
  const keep = (name: string, t: tf.Tensor): void => { if (capture) inter.set(name, t) }
  const [b, height, width, channels] = inp.x.shape
  const p = cfg.patch_size
  if (channels !== cfg.in_channels) throw new Error(`PixArt input has ${channels} channels, config in_channels is ${cfg.in_channels}`)
  if (height % p !== 0 || width % p !== 0) throw new Error(`PixArt input ${height}x${width} is not divisible by patch_size ${p}`)
  const gh = height / p
  const gw = width / p
  const d = innerDim(cfg)

  const bias = inp.mask ? tf.scalar(1).sub(inp.mask.toFloat()).mul(-10000).reshape([b, 1, -1]) : null
  const pos = tf.tensor3d(positionTable(cfg, gh, gw), [1, gh * gw, d])
  let x = linear(w, 'pos_embed.proj', patchify(inp.x, p)).add(pos) as tf.Tensor3D
  keep('inter.patch_embed', x)

  const ts = typeof inp.timesteps === 'number' ? new Array(b).fill(inp.timesteps) : Array.from(inp.timesteps)
  if (ts.length !== b) throw new Error(`PixArt got ${ts.length} timesteps for a batch of ${b}`)
  const {t6, embedded, proj} = adaLNSingle(w, ts)
  keep('inter.timestep_proj', proj)
  keep('inter.embedded_timestep', embedded)
  keep('inter.adaln_single_out', t6)

  const ctx = linear(w, 'caption_projection.linear_2', geluTanh(linear(w, 'caption_projection.linear_1', inp.context))) as tf.Tensor3D
  keep('inter.caption_projection', ctx)

  for (let i = 0; i < cfg.num_layers; i++) {
    // Each block in a tidy of its own: a caller's tidy around the whole forward would otherwise keep
    // every block's intermediates until the end (PixArt-XL-2 at 256 px: ~1.4 GB over the weights;
    // at 512 px past the 4 GB wasm heap). A gradient tape keeps what it needs (tfjs saves a kept copy).
    const input = x
    x = inp.checkpointBlocks ? checkpointedPixartBlock(w, cfg, i, x, t6, ctx, bias) : tf.tidy(() => pixartBlock(w, cfg, i, input, t6, ctx, bias))
    keep(`inter.block_${i}`, x)
  }

  const [shift, scale] = tf.split(param(w, 'scale_shift_table').expandDims(0).add(embedded.expandDims(1)), 2, 1)
  const out = linear(w, 'proj_out', layerNorm(x, 1e-6).mul(scale.add(1)).add(shift)) as tf.Tensor3D
  keep('inter.proj_out', out)
  return {sample: unpatchify(out, gh, gw, p, cfg.out_channels), intermediates: inter}
}
