// AutoencoderKL (the SD VAE PixArt uses, sd-vae-ft-ema; golden README §3): encoder to the
// posterior moments and decoder back to pixels, channels-last. Parameter names are the
// diffusers state_dict keys; every size comes from the diffusers config.
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {dense, param, silu, type Weights} from '../layers.js'
import {normalizeGroups} from '../normalize.js'

export interface VaeConfig {
  in_channels: number
  out_channels: number
  latent_channels: number
  block_out_channels: number[]
  layers_per_block: number
  norm_num_groups: number
  /** latents = posterior sample * scaling_factor (diffusers default 0.18215 when absent) */
  scaling_factor: number
}

export function parseVaeConfig(raw: Record<string, any>, source = 'config.json'): VaeConfig {
  const c = raw.model_config ?? raw
  if (!Array.isArray(c.block_out_channels) || c.block_out_channels.length === 0)
    throw new UserError(`${source}: AutoencoderKL config needs block_out_channels`)
  for (const t of [...(c.down_block_types ?? []), ...(c.up_block_types ?? [])]) {
    if (t !== 'DownEncoderBlock2D' && t !== 'UpDecoderBlock2D')
      throw new UserError(
        `${source}: block type ${t} is not supported (SD VAE uses DownEncoderBlock2D / UpDecoderBlock2D)`
      )
  }
  if (c.act_fn !== undefined && c.act_fn !== 'silu')
    throw new UserError(`${source}: act_fn ${c.act_fn} is not supported (silu)`)
  return {
    in_channels: c.in_channels ?? 3,
    out_channels: c.out_channels ?? 3,
    latent_channels: c.latent_channels ?? 4,
    block_out_channels: c.block_out_channels,
    layers_per_block: c.layers_per_block ?? 1,
    norm_num_groups: c.norm_num_groups ?? 32,
    scaling_factor: c.scaling_factor ?? 0.18215
  }
}

const EPS = 1e-6

/** GroupNorm over channels-last input, with affine weight and bias. */
function groupNorm(w: Weights, path: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [b, h, wd, c] = x.shape
  const normed = normalizeGroups(x, {n: b, s: h * wd, g: groups, k: c / groups, eps: EPS})
  return normed.mul(param(w, `${path}.weight`)).add(param(w, `${path}.bias`)) as tf.Tensor4D
}

function conv(w: Weights, path: string, x: tf.Tensor4D, stride = 1, pad: 'same' | 'valid' = 'same'): tf.Tensor4D {
  return tf
    .conv2d(x, param(w, `${path}.weight`) as tf.Tensor4D, stride, pad)
    .add(param(w, `${path}.bias`)) as tf.Tensor4D
}

/** ResnetBlock2D without time embedding: GN, SiLU, conv, GN, SiLU, conv, plus (1x1) shortcut. */
function resnet(w: Weights, path: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  let h = conv(w, `${path}.conv1`, silu(groupNorm(w, `${path}.norm1`, x, groups)) as tf.Tensor4D)
  h = conv(w, `${path}.conv2`, silu(groupNorm(w, `${path}.norm2`, h, groups)) as tf.Tensor4D)
  const skip = w.params.has(`${path}.conv_shortcut.weight`) ? conv(w, `${path}.conv_shortcut`, x) : x
  return skip.add(h) as tf.Tensor4D
}

/** Mid-block attention: one head over H*W positions, group_norm inside, residual. */
function spatialAttention(w: Weights, path: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [b, h, wd, c] = x.shape
  const n = groupNorm(w, `${path}.group_norm`, x, groups).reshape([b, h * wd, c])
  const lin = (name: string, t: tf.Tensor): tf.Tensor =>
    dense(t, param(w, `${path}.${name}.weight`), param(w, `${path}.${name}.bias`))
  const q = lin('to_q', n) as tf.Tensor3D
  const k = lin('to_k', n) as tf.Tensor3D
  const v = lin('to_v', n) as tf.Tensor3D
  const probs = tf.softmax(tf.matMul(q, k, false, true).mul(1 / Math.sqrt(c)), -1) as tf.Tensor3D
  const out = lin('to_out.0', tf.matMul(probs, v))
  return x.add(out.reshape([b, h, wd, c])) as tf.Tensor4D
}

function midBlock(w: Weights, path: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  x = resnet(w, `${path}.resnets.0`, x, groups)
  x = spatialAttention(w, `${path}.attentions.0`, x, groups)
  return resnet(w, `${path}.resnets.1`, x, groups)
}

/**
 * One resnet or mid block in a tidy of its own: a caller's tidy around the whole encode/decode
 * would keep every block's intermediates (at 256 px the decoder's last blocks make 32 MB tensors
 * by the dozen). A gradient tape keeps what it needs (tfjs saves a kept copy).
 */
function block(run: () => tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(run)
}

/** encoder(image) -> [B,h,w,2*latent] before quant_conv (image in [-1,1], NHWC). */
export function vaeEncoder(w: Weights, cfg: VaeConfig, image: tf.Tensor4D): tf.Tensor4D {
  const g = cfg.norm_num_groups
  let x = conv(w, 'encoder.conv_in', image)
  cfg.block_out_channels.forEach((_, i) => {
    for (let j = 0; j < cfg.layers_per_block; j++)
      x = block(() => resnet(w, `encoder.down_blocks.${i}.resnets.${j}`, x, g))
    if (i < cfg.block_out_channels.length - 1) {
      // Downsample2D: pad (0,1,0,1) with zeros, then 3x3 stride 2 without padding.
      x = conv(
        w,
        `encoder.down_blocks.${i}.downsamplers.0.conv`,
        tf.pad(x, [
          [0, 0],
          [0, 1],
          [0, 1],
          [0, 0]
        ]),
        2,
        'valid'
      )
    }
  })
  x = block(() => midBlock(w, 'encoder.mid_block', x, g))
  return conv(w, 'encoder.conv_out', silu(groupNorm(w, 'encoder.conv_norm_out', x, g)) as tf.Tensor4D)
}

export interface Posterior {
  encoderOut: tf.Tensor4D
  moments: tf.Tensor4D
  mean: tf.Tensor4D
  logvar: tf.Tensor4D
}

/** Diagonal Gaussian posterior: moments = quant_conv(encoder(x)); logvar clamped to [-30, 20]. */
export function vaeEncode(w: Weights, cfg: VaeConfig, image: tf.Tensor4D): Posterior {
  const encoderOut = vaeEncoder(w, cfg, image)
  const moments = conv(w, 'quant_conv', encoderOut)
  const [mean, rawLogvar] = tf.split(moments, 2, 3) as [tf.Tensor4D, tf.Tensor4D]
  return {encoderOut, moments, mean, logvar: tf.clipByValue(rawLogvar, -30, 20)}
}

/** decode(z): post_quant_conv then the decoder; z is unscaled (divide latents by scaling_factor first). */
export function vaeDecode(w: Weights, cfg: VaeConfig, z: tf.Tensor4D): tf.Tensor4D {
  const g = cfg.norm_num_groups
  let x = conv(w, 'decoder.conv_in', conv(w, 'post_quant_conv', z))
  x = block(() => midBlock(w, 'decoder.mid_block', x, g))
  const n = cfg.block_out_channels.length
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= cfg.layers_per_block; j++)
      x = block(() => resnet(w, `decoder.up_blocks.${i}.resnets.${j}`, x, g))
    if (i < n - 1) {
      const [, h, wd] = x.shape
      x = conv(w, `decoder.up_blocks.${i}.upsamplers.0.conv`, tf.image.resizeNearestNeighbor(x, [2 * h, 2 * wd]))
    }
  }
  return conv(w, 'decoder.conv_out', silu(groupNorm(w, 'decoder.conv_norm_out', x, g)) as tf.Tensor4D)
}
