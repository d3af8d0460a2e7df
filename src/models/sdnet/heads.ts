// Segmentor, style (modality) encoder and AdaIN decoder. docs/REFERENCE.md §3.2; parameter names as
// the authors' state_dict (segmentor.*, m_encoder.*, decoder.decoder.*). The learned-AdaIN
// linears (decoder.decoder.adain{k}.fc) exist only in the `learned` form, which is ours.
import * as tf from '@tensorflow/tfjs'
import {styleFeatureSide, styleFlattenSize, type SdnetConfig} from './config.js'
import {ParamBuilder, batchNorm, batchNormRelu, conv, linear, type ForwardContext} from './layers.js'

// --- segmentation head: conv3x3+BN+ReLU, conv3x3+BN+ReLU, conv1x1 -> 2, softmax ---

export function buildSegmentor(b: ParamBuilder, c: SdnetConfig): void {
  b.conv('segmentor.conv1.0', c.anatomyChannels, c.segWidth, 3)
  b.batchNorm('segmentor.conv1.1', c.segWidth)
  b.conv('segmentor.conv2.0', c.segWidth, c.segWidth, 3)
  b.batchNorm('segmentor.conv2.1', c.segWidth)
  b.conv('segmentor.pred', c.segWidth, 2, 1) // background, lesion
}

/** [B, H, W, 2] class probabilities; channel 1 is the lesion. */
export function segment(ctx: ForwardContext, a: tf.Tensor4D): tf.Tensor4D {
  let h = batchNormRelu(ctx, 'segmentor.conv1.1', conv(ctx, 'segmentor.conv1.0', a)) as tf.Tensor4D
  h = batchNormRelu(ctx, 'segmentor.conv2.1', conv(ctx, 'segmentor.conv2.0', h)) as tf.Tensor4D
  return tf.softmax(conv(ctx, 'segmentor.pred', h, 1, 0), -1)
}

// --- style encoder: [a ⊕ x] -> 4 x (conv3x3/2 + BN + LeakyReLU 0.2) -> Linear -> BN1d -> LeakyReLU 0.03 -> mu, logvar ---

const STYLE_WIDTHS = [16, 32, 64, 128]

export function buildStyleEncoder(b: ParamBuilder, c: SdnetConfig): void {
  let cin = c.anatomyChannels + 3
  STYLE_WIDTHS.forEach((w, i) => {
    b.conv(`m_encoder.block${i + 1}.0`, cin, w, 3)
    b.batchNorm(`m_encoder.block${i + 1}.1`, w)
    cin = w
  })
  // The authors hard-code 25088 (= 224 px); the width follows the image size here.
  b.linear('m_encoder.fc', styleFlattenSize(c.imageSize), 32)
  b.batchNorm('m_encoder.norm', 32)
  b.linear('m_encoder.mu', 32, c.zLength)
  b.linear('m_encoder.logvar', 32, c.zLength)
}

export function encodeStyle(
  ctx: ForwardContext,
  c: SdnetConfig,
  a: tf.Tensor4D,
  x: tf.Tensor4D
): {mu: tf.Tensor2D; logvar: tf.Tensor2D} {
  let h = tf.concat([a, x], 3) // anatomy first, as torch.cat([a, x], 1)
  for (let i = 1; i <= 4; i++) {
    h = tf.leakyRelu(
      batchNorm(ctx, `m_encoder.block${i}.1`, conv(ctx, `m_encoder.block${i}.0`, h, 2, 1)),
      0.2
    ) as tf.Tensor4D
  }
  // torch flattens NCHW; transpose so the Linear's input order matches exported weights
  const side = styleFeatureSide(c.imageSize)
  const flat = h.transpose([0, 3, 1, 2]).reshape([h.shape[0], 128 * side * side]) as tf.Tensor2D
  const f = tf.leakyRelu(batchNorm(ctx, 'm_encoder.norm', linear(ctx, 'm_encoder.fc', flat)), 0.03) as tf.Tensor2D
  return {mu: linear(ctx, 'm_encoder.mu', f), logvar: linear(ctx, 'm_encoder.logvar', f)}
}

/** z = mu + eps * exp(logvar / 2), eps ~ N(0, I) from a seeded draw. */
export function reparameterize(mu: tf.Tensor2D, logvar: tf.Tensor2D, seed: number): tf.Tensor2D {
  const eps = tf.randomNormal(mu.shape, 0, 1, 'float32', seed)
  return mu.add(eps.mul(tf.exp(logvar.mul(0.5))))
}

// --- AdaIN decoder ---

/** Mean and sqrt(unbiased variance + 1e-5) over `axes` (torch .var() is unbiased; docs/REFERENCE.md §10). */
function unbiasedStats(x: tf.Tensor, axes: number[]): {mean: tf.Tensor; std: tf.Tensor} {
  const {mean, variance} = tf.moments(x, axes, true)
  const n = axes.reduce((acc, a) => acc * x.shape[a], 1)
  return {mean, std: tf.sqrt(variance.mul(n / Math.max(1, n - 1)).add(1e-5))}
}

/**
 * AdaIN(x, z). `scalar` (docs/REFERENCE.md §3.2): the scalar mean and std of z's own entries scale
 * every channel, no learned weights, so the decoder can render only two numbers of the style
 * code and lesions come out in one washed-out colour. `learned` (ours, the default): a Linear
 * maps z to a per-channel (scale, shift), out = norm(x) * (1 + scale) + shift, zero-initialised
 * so training starts from plain instance norm. Measured in docs/RESULTS.md: after 3 epochs it
 * beats scalar on Dice, reconstruction and the style swap (mask IoU 0.84 vs 0.71); after one
 * epoch it is behind on Dice (0.69 vs 0.91), which is why the 10-minute demo keeps `scalar`.
 * (Scalar base times a learned per-channel residual was also tried: one epoch val Dice 0.91,
 * but after three the swap kept only 0.73 IoU, since swapping z still rescales every channel.)
 * Written as (x - mean_c) * (gain / std_c) + shift so only three full-size tensors are made.
 */
function adain(ctx: ForwardContext, c: SdnetConfig, k: number, x: tf.Tensor4D, z: tf.Tensor2D): tf.Tensor4D {
  const content = unbiasedStats(x, [1, 2])
  const batch = x.shape[0]
  let gain: tf.Tensor
  let shift: tf.Tensor
  if (c.adain === 'scalar') {
    const style = unbiasedStats(z, [1])
    gain = style.std.reshape([batch, 1, 1, 1])
    shift = style.mean.reshape([batch, 1, 1, 1])
  } else {
    const channels = x.shape[3]
    const params = linear(ctx, `decoder.decoder.adain${k}.fc`, z)
    gain = params.slice([0, 0], [batch, channels]).reshape([batch, 1, 1, channels]).add(1)
    shift = params.slice([0, channels], [batch, channels]).reshape([batch, 1, 1, channels])
  }
  return x.sub(content.mean).mul(gain.div(content.std)).add(shift)
}

export function buildDecoder(b: ParamBuilder, c: SdnetConfig): void {
  const [w1, w2, w3] = c.decoderWidths
  const ins = [c.anatomyChannels, w1, w2, w3]
  b.conv('decoder.decoder.conv1.0', ins[0], w1, 3)
  b.conv('decoder.decoder.conv2.0', w1, w2, 3)
  b.conv('decoder.decoder.conv3.0', w2, w3, 3)
  b.conv('decoder.decoder.conv4', w3, 3, 3) // conv_no_activ is a bare Conv2d: no ".0"
  // Zero-initialised (see adain). With Xavier init each channel began with a random gain and
  // one epoch reached val Dice 0.38-0.76 (docs/RESULTS.md).
  if (c.adain === 'learned')
    ins.forEach((ch, i) => b.linear(`decoder.decoder.adain${i + 1}.fc`, c.zLength, 2 * ch, 'zero'))
}

/** Reconstruction in (-1, 1): AdaIN -> conv+ReLU (x3) -> AdaIN -> conv -> tanh, at full resolution. */
export function decode(ctx: ForwardContext, c: SdnetConfig, a: tf.Tensor4D, z: tf.Tensor2D): tf.Tensor4D {
  let h = tf.relu(conv(ctx, 'decoder.decoder.conv1.0', adain(ctx, c, 1, a, z))) as tf.Tensor4D
  h = tf.relu(conv(ctx, 'decoder.decoder.conv2.0', adain(ctx, c, 2, h, z))) as tf.Tensor4D
  h = tf.relu(conv(ctx, 'decoder.decoder.conv3.0', adain(ctx, c, 3, h, z))) as tf.Tensor4D
  return tf.tanh(conv(ctx, 'decoder.decoder.conv4', adain(ctx, c, 4, h, z)))
}
