// Anatomy encoder: U-Net (4 levels, pre-activation residual bottleneck, nearest upsampling,
// 8-channel head) followed by hard Gumbel-softmax. docs/REFERENCE.md §3.2; names as the authors'
// state_dict (a_encoder.unet.*). Sequential indices: conv 0, BN 1, ReLU 2, conv 3, BN 4.
import * as tf from '@tensorflow/tfjs'
import type {SdnetConfig} from './config.js'
import {ParamBuilder, batchNorm, batchNormRelu, conv, type ForwardContext} from './layers.js'

const P = 'a_encoder.unet'

/** conv_block_unet: [conv3x3 -> BN -> ReLU] x 2. */
function buildDoubleConv(b: ParamBuilder, name: string, cin: number, cout: number): void {
  b.conv(`${name}.0`, cin, cout, 3)
  b.batchNorm(`${name}.1`, cout)
  b.conv(`${name}.3`, cout, cout, 3)
  b.batchNorm(`${name}.4`, cout)
}

function doubleConv(ctx: ForwardContext, name: string, x: tf.Tensor4D): tf.Tensor4D {
  const h = batchNormRelu(ctx, `${name}.1`, conv(ctx, `${name}.0`, x)) as tf.Tensor4D
  return batchNormRelu(ctx, `${name}.4`, conv(ctx, `${name}.3`, h)) as tf.Tensor4D
}

/** conv_preactivation_relu: ReLU -> conv -> BN (indices 1, 2). */
function preActivation(ctx: ForwardContext, name: string, x: tf.Tensor4D, pad: number): tf.Tensor4D {
  return batchNorm(ctx, `${name}.2`, conv(ctx, `${name}.1`, tf.relu(x), 1, pad)) as tf.Tensor4D
}

export function buildAnatomyEncoder(b: ParamBuilder, c: SdnetConfig): void {
  const n = c.ndf
  buildDoubleConv(b, `${P}.encoder_block1`, 3, n)
  buildDoubleConv(b, `${P}.encoder_block2`, n, n * 2)
  buildDoubleConv(b, `${P}.encoder_block3`, n * 2, n * 4)
  buildDoubleConv(b, `${P}.encoder_block4`, n * 4, n * 8)
  // ResConv(ndf*8): two 3x3 pre-activation convs to ndf*16 plus a 1x1 pre-activation shortcut
  b.conv(`${P}.bottleneck.conv1.1`, n * 8, n * 16, 3)
  b.batchNorm(`${P}.bottleneck.conv1.2`, n * 16)
  b.conv(`${P}.bottleneck.conv2.1`, n * 16, n * 16, 3)
  b.batchNorm(`${P}.bottleneck.conv2.2`, n * 16)
  b.conv(`${P}.bottleneck.resconv.1`, n * 8, n * 16, 1)
  b.batchNorm(`${P}.bottleneck.resconv.2`, n * 16)
  for (let level = 1; level <= 4; level++) {
    const wide = n * 2 ** (5 - level) // 16n, 8n, 4n, 2n
    b.conv(`${P}.decoder_upconv${level}.0`, wide, wide / 2, 3)
    b.batchNorm(`${P}.decoder_upconv${level}.1`, wide / 2)
    buildDoubleConv(b, `${P}.decoder_block${level}`, wide, wide / 2)
  }
  b.conv(`${P}.classifier_conv`, n, c.anatomyChannels, 3)
}

/** The U-Net's anatomy logits [B, H, W, anatomyChannels] (before binarisation). */
export function anatomyLogits(ctx: ForwardContext, c: SdnetConfig, x: tf.Tensor4D): tf.Tensor4D {
  const pool = (t: tf.Tensor4D) => tf.maxPool(t, 2, 2, 'valid')
  const s1 = doubleConv(ctx, `${P}.encoder_block1`, x)
  const s2 = doubleConv(ctx, `${P}.encoder_block2`, pool(s1))
  const s3 = doubleConv(ctx, `${P}.encoder_block3`, pool(s2))
  const s4 = doubleConv(ctx, `${P}.encoder_block4`, pool(s3))
  const bottom = pool(s4)
  const main = preActivation(ctx, `${P}.bottleneck.conv2`, preActivation(ctx, `${P}.bottleneck.conv1`, bottom, 1), 1)
  let h = main.add(preActivation(ctx, `${P}.bottleneck.resconv`, bottom, 0)) as tf.Tensor4D
  const skips = [s4, s3, s2, s1]
  for (let level = 1; level <= 4; level++) {
    const size = c.imageSize / 2 ** (4 - level)
    // Interpolate(mode='nearest') to h/8, h/4, h/2, h; then upconv = conv + BN with no activation
    h = tf.image.resizeNearestNeighbor(h, [size, size])
    h = batchNorm(ctx, `${P}.decoder_upconv${level}.1`, conv(ctx, `${P}.decoder_upconv${level}.0`, h)) as tf.Tensor4D
    h = doubleConv(ctx, `${P}.decoder_block${level}`, tf.concat([h, skips[level - 1]], 3))
  }
  return conv(ctx, `${P}.classifier_conv`, h)
}
