// AutoencoderKL parameter names and shapes from a config alone (PyTorch layout, diffusers
// state_dict keys), and a seeded init for training one from scratch: the small VAE of the
// embedded demo (src/stages/dit/vae-train.ts). The forward pass is autoencoder.ts; a VAE
// initialised here and saved with exportParams loads back through load.ts like any diffusers folder.
import type * as tf from '@tensorflow/tfjs'
import {trainableFromTorch, xavierUniformValues} from '../params.js'
import type {Rng} from '../../util/rng.js'
import type {VaeConfig} from './autoencoder.js'

export function vaeParamShapes(cfg: VaeConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>()
  const conv = (name: string, cin: number, cout: number, k = 3): void => {
    shapes.set(`${name}.weight`, [cout, cin, k, k])
    shapes.set(`${name}.bias`, [cout])
  }
  const norm = (name: string, c: number): void => {
    shapes.set(`${name}.weight`, [c])
    shapes.set(`${name}.bias`, [c])
  }
  const linear = (name: string, cin: number, cout: number): void => {
    shapes.set(`${name}.weight`, [cout, cin])
    shapes.set(`${name}.bias`, [cout])
  }
  const resnet = (name: string, cin: number, cout: number): void => {
    norm(`${name}.norm1`, cin)
    conv(`${name}.conv1`, cin, cout)
    norm(`${name}.norm2`, cout)
    conv(`${name}.conv2`, cout, cout)
    if (cin !== cout) conv(`${name}.conv_shortcut`, cin, cout, 1)
  }
  const mid = (name: string, c: number): void => {
    resnet(`${name}.resnets.0`, c, c)
    norm(`${name}.attentions.0.group_norm`, c)
    for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(`${name}.attentions.0.${p}`, c, c)
    resnet(`${name}.resnets.1`, c, c)
  }
  const widths = cfg.block_out_channels
  conv('encoder.conv_in', cfg.in_channels, widths[0])
  let c = widths[0]
  widths.forEach((out, i) => {
    for (let j = 0; j < cfg.layers_per_block; j++) {
      resnet(`encoder.down_blocks.${i}.resnets.${j}`, c, out)
      c = out
    }
    if (i < widths.length - 1) conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, out, out)
  })
  mid('encoder.mid_block', c)
  norm('encoder.conv_norm_out', c)
  conv('encoder.conv_out', c, 2 * cfg.latent_channels)
  conv('quant_conv', 2 * cfg.latent_channels, 2 * cfg.latent_channels, 1)
  conv('post_quant_conv', cfg.latent_channels, cfg.latent_channels, 1)
  const reversed = [...widths].reverse()
  conv('decoder.conv_in', cfg.latent_channels, reversed[0])
  mid('decoder.mid_block', reversed[0])
  c = reversed[0]
  reversed.forEach((out, i) => {
    // UpDecoderBlock2D has layers_per_block + 1 resnets
    for (let j = 0; j <= cfg.layers_per_block; j++) {
      resnet(`decoder.up_blocks.${i}.resnets.${j}`, c, out)
      c = out
    }
    if (i < reversed.length - 1) conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, out, out)
  })
  norm('decoder.conv_norm_out', c)
  conv('decoder.conv_out', c, cfg.out_channels)
  return shapes
}

/** Xavier-uniform convs and Linears, zero biases, GroupNorm weight 1 (tfjs layout variables). */
export function initVaeParams(cfg: VaeConfig, rng: Rng): Map<string, tf.Variable> {
  const params = new Map<string, tf.Variable>()
  for (const [name, shape] of vaeParamShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1)
    let values: Float32Array
    if (name.endsWith('.bias')) values = new Float32Array(n)
    else if (shape.length === 1) values = new Float32Array(n).fill(1)
    else {
      const receptive = shape.length === 4 ? shape[2] * shape[3] : 1
      values = xavierUniformValues(n, shape[1] * receptive, shape[0] * receptive, rng)
    }
    params.set(name, trainableFromTorch(name, shape, values))
  }
  return params
}

/** The diffusers config.json of a VAE medgen trained (AutoencoderKL with DownEncoderBlock2D / UpDecoderBlock2D blocks). */
export function vaeDiffusersConfig(cfg: VaeConfig): Record<string, unknown> {
  const n = cfg.block_out_channels.length
  return {
    _class_name: 'AutoencoderKL',
    act_fn: 'silu',
    in_channels: cfg.in_channels,
    out_channels: cfg.out_channels,
    latent_channels: cfg.latent_channels,
    block_out_channels: cfg.block_out_channels,
    layers_per_block: cfg.layers_per_block,
    norm_num_groups: cfg.norm_num_groups,
    scaling_factor: cfg.scaling_factor,
    down_block_types: new Array(n).fill('DownEncoderBlock2D'),
    up_block_types: new Array(n).fill('UpDecoderBlock2D')
  }
}
