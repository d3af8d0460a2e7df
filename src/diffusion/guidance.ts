// Classifier-free guidance as PixArtAlphaPipeline does it (docs/REFERENCE.md §6, golden/schedulers cfg):
// the model runs once on the batch [uncond; cond], the output is split in two along the batch,
// guided = uncond + s * (cond - uncond) on ALL output channels, and then, when the transformer
// predicts a learned sigma (out channels = 2 x latent channels), only the first half (eps) is kept.
import * as tf from '@tensorflow/tfjs'

/** Guidance scales of 0 or 1 mean "no guidance": only the conditional half is run. */
export function usesGuidance(scale: number): boolean {
  return scale !== 0 && scale !== 1
}

/**
 * out: NHWC model output, [2B, H, W, Cout] when guided (uncond first) or [B, H, W, Cout] when not.
 * Returns eps [B, H, W, latentChannels].
 */
export function combineGuidance(out: tf.Tensor4D, scale: number, latentChannels: number): tf.Tensor4D {
  return tf.tidy(() => {
    const outChannels = out.shape[3]
    if (outChannels !== latentChannels && outChannels !== 2 * latentChannels) {
      throw new Error(
        `model output has ${outChannels} channels; expected ${latentChannels} or ${2 * latentChannels} (learned sigma)`
      )
    }
    let guided: tf.Tensor4D = out
    if (usesGuidance(scale)) {
      if (out.shape[0] % 2 !== 0) throw new Error(`guided model output batch ${out.shape[0]} is not [uncond; cond]`)
      const [uncond, cond] = tf.split(out, 2, 0) as [tf.Tensor4D, tf.Tensor4D]
      guided = tf.add(uncond, tf.mul(scale, tf.sub(cond, uncond)))
    }
    if (outChannels === latentChannels) return guided
    const [n, h, w] = guided.shape
    return tf.slice(guided, [0, 0, 0, 0], [n, h, w, latentChannels])
  })
}
