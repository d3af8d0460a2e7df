// One PixArt-alpha transformer block (diffusers BasicTransformerBlock, norm_type
// "ada_norm_single"; golden README §1 step 5, docs/REFERENCE.md §5.1).
import * as tf from '@tensorflow/tfjs'
import {innerDim, type PixArtConfig} from './config.js'
import {attention, geluTanh, layerNorm, linear, param, type Weights} from './layers.js'

/** One BasicTransformerBlock with ada_norm_single (golden README §1 step 5). */
export function pixartBlock(w: Weights, cfg: PixArtConfig, i: number, x: tf.Tensor3D, t6: tf.Tensor2D, ctx: tf.Tensor3D, bias: tf.Tensor | null): tf.Tensor3D {
  const d = innerDim(cfg)
  const b = x.shape[0]
  const path = `transformer_blocks.${i}`
  const mod = param(w, `${path}.scale_shift_table`).expandDims(0).add(t6.reshape([b, 6, d]))
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
