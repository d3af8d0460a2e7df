// PixArt-alpha transformer configuration (diffusers Transformer2DModel with norm_type
// "ada_norm_single", docs/REFERENCE.md §5.1) and the named presets. Every size the model uses is
// read from here; nothing in the architecture is hard-coded to a fixture's shapes.
import {UserError} from '../../errors.js'

export interface PixArtConfig {
  num_layers: number
  num_attention_heads: number
  attention_head_dim: number
  in_channels: number
  /** 2*in_channels for a learned-sigma head (the variance channels are ignored by training) */
  out_channels: number
  patch_size: number
  /** latent (or pixel) side the position table was built for */
  sample_size: number
  cross_attention_dim: number
  caption_channels: number
  norm_eps: number
  /** diffusers: max(sample_size // 64, 1) unless given */
  interpolation_scale?: number
}

const REQUIRED = [
  'num_layers',
  'num_attention_heads',
  'attention_head_dim',
  'in_channels',
  'patch_size',
  'sample_size',
  'caption_channels'
] as const

/** Reads a diffusers transformer config (or a fixture config.json holding `model_config`). */
export function parsePixArtConfig(raw: Record<string, any>, source = 'config.json'): PixArtConfig {
  const c = raw.model_config ?? raw
  for (const key of REQUIRED) {
    if (typeof c[key] !== 'number')
      throw new UserError(`${source}: PixArt config key ${key} is missing or not a number`)
  }
  if (c.norm_type !== undefined && c.norm_type !== 'ada_norm_single') {
    throw new UserError(`${source}: norm_type ${c.norm_type} is not supported (PixArt-alpha uses ada_norm_single)`)
  }
  if (c.sample_size === 128 || c.use_additional_conditions === true) {
    throw new UserError(
      `${source}: resolution/aspect-ratio conditioning (sample_size 128, PixArt-1024) is not supported`
    )
  }
  const inner = c.num_attention_heads * c.attention_head_dim
  const cfg: PixArtConfig = {
    num_layers: c.num_layers,
    num_attention_heads: c.num_attention_heads,
    attention_head_dim: c.attention_head_dim,
    in_channels: c.in_channels,
    out_channels: c.out_channels ?? c.in_channels,
    patch_size: c.patch_size,
    sample_size: c.sample_size,
    cross_attention_dim: c.cross_attention_dim ?? inner,
    caption_channels: c.caption_channels,
    norm_eps: c.norm_eps ?? 1e-6
  }
  if (typeof c.interpolation_scale === 'number') cfg.interpolation_scale = c.interpolation_scale
  if (cfg.cross_attention_dim !== inner) {
    // Captions are projected to inner_dim before cross-attention, so the key/value input width is inner_dim.
    throw new UserError(
      `${source}: cross_attention_dim ${cfg.cross_attention_dim} must equal num_attention_heads*attention_head_dim ${inner}`
    )
  }
  return cfg
}

export function innerDim(c: PixArtConfig): number {
  return c.num_attention_heads * c.attention_head_dim
}
export function interpolationScale(c: PixArtConfig): number {
  return c.interpolation_scale ?? Math.max(Math.floor(c.sample_size / 64), 1)
}

/** The diffusers-style config.json written next to trained weights. */
export function toDiffusersConfig(c: PixArtConfig): Record<string, unknown> {
  return {
    _class_name: 'PixArtTransformer2DModel',
    activation_fn: 'gelu-approximate',
    attention_bias: true,
    attention_type: 'default',
    norm_type: 'ada_norm_single',
    norm_elementwise_affine: false,
    num_embeds_ada_norm: 1000,
    use_linear_projection: false,
    only_cross_attention: false,
    upcast_attention: false,
    double_self_attention: false,
    dropout: 0,
    ...c
  }
}

const base = {norm_eps: 1e-6}

export const pixartPresets = {
  /** PixArt-XL-2-512x512 (docs/REFERENCE.md §5.1): 610,856,096 parameters. */
  'pixart-xl-512': {
    ...base,
    num_layers: 28,
    num_attention_heads: 16,
    attention_head_dim: 72,
    in_channels: 4,
    out_channels: 8,
    patch_size: 2,
    sample_size: 64,
    cross_attention_dim: 1152,
    caption_channels: 4096
  },
  /** bench/bench-small.json: ~29.8M parameters, 256 latent tokens. */
  'pixart-small': {
    ...base,
    num_layers: 12,
    num_attention_heads: 6,
    attention_head_dim: 64,
    in_channels: 4,
    out_channels: 8,
    patch_size: 2,
    sample_size: 32,
    cross_attention_dim: 384,
    caption_channels: 256
  },
  /** bench/bench-tiny.json: ~1.25M parameters, 64 latent tokens. */
  'pixart-tiny': {
    ...base,
    num_layers: 4,
    num_attention_heads: 4,
    attention_head_dim: 32,
    in_channels: 4,
    out_channels: 8,
    patch_size: 2,
    sample_size: 16,
    cross_attention_dim: 128,
    caption_channels: 128
  },
  /**
   * Embedded default: pixel space (RGB in, 6 out = epsilon + learned-sigma channels), 32x32
   * images as 8x8 = 64 patches of 4x4, trained from scratch on CPU/wasm in minutes.
   */
  'pixart-demo': {
    ...base,
    num_layers: 4,
    num_attention_heads: 4,
    attention_head_dim: 24,
    in_channels: 3,
    out_channels: 6,
    patch_size: 4,
    sample_size: 32,
    cross_attention_dim: 96,
    caption_channels: 64
  },
  /**
   * The demo on the latents of its own small VAE (dit.vae.train, channels [16, 32]): 16x16x4
   * latents of 32 px images as 8x8 = 64 patches of 2x2, the pixart-demo widths.
   */
  'pixart-demo-latent': {
    ...base,
    num_layers: 4,
    num_attention_heads: 4,
    attention_head_dim: 24,
    in_channels: 4,
    out_channels: 8,
    patch_size: 2,
    sample_size: 16,
    cross_attention_dim: 96,
    caption_channels: 64
  }
} satisfies Record<string, PixArtConfig>

export function pixartPreset(name: string): PixArtConfig {
  const p = (pixartPresets as Record<string, PixArtConfig>)[name]
  if (!p) throw new UserError(`dit.preset ${name}: unknown; known: ${Object.keys(pixartPresets).join(', ')}`)
  return {...p}
}
