// pytorch-fid's input convention (golden/README.md §5): images in [0,1] are resized to 299x299
// with bilinear interpolation, align_corners=False and no antialias, then mapped to [-1,1].
// tfjs resizeBilinear with halfPixelCenters reproduces torch's source-index rule
// (src = (dst+0.5)·scale - 0.5, clamped at 0), checked against the fixture's resized input.
// 'bilinear-antialias' (clean-fid style) is offered for comparison with other tools: it first
// box-filters by an integer factor when shrinking, then resizes bilinearly.
import * as tf from '@tensorflow/tfjs'

export type ResizeMode = 'bilinear' | 'bilinear-antialias'
export const inceptionSize = 299

/** NHWC [B,H,W,3] in [0,1] -> [B,299,299,3] in [-1,1]. */
export function preprocessForInception(images: tf.Tensor4D, mode: ResizeMode = 'bilinear'): tf.Tensor4D {
  return tf.tidy(() => {
    let x = images
    if (mode === 'bilinear-antialias') {
      const factor = Math.floor(Math.min(x.shape[1], x.shape[2]) / inceptionSize)
      if (factor >= 2) x = tf.avgPool(x, factor, factor, 'valid')
    }
    const resized = tf.image.resizeBilinear(x, [inceptionSize, inceptionSize], false, true)
    return resized.mul(2).sub(1) as tf.Tensor4D
  })
}
