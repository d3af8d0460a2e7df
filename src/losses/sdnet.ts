// SDNet's training objective (docs/REFERENCE.md §3.4; paper Eq. 1 lists reconstruction, KL and Dice;
// the latent regression term exists only in the authors' code):
//   1 * L1(reco, x) + 0.01 * KL + 10 * Dice + 1 * L1(mu~, stopgrad(z))  [+ 0.1 * perceptual]
import * as tf from '@tensorflow/tfjs'
import {gaussianKl, l1Loss} from './basic.js'
import {globalDiceLoss} from './dice.js'
import type {PerceptualLoss} from './perceptual.js'
import {stopGradient} from './stop-gradient.js'

export interface SdnetLossWeights {
  reconstruction: number
  kl: number
  dice: number
  regression: number
  perceptual: number
}

export const SDNET_LOSS_WEIGHTS: SdnetLossWeights = {
  reconstruction: 1,
  kl: 0.01,
  dice: 10,
  regression: 1,
  perceptual: 0.1
}

export interface SdnetLossInputs {
  x: tf.Tensor4D
  mask: tf.Tensor4D
  reco: tf.Tensor4D
  /** lesion channel of the segmentor, [B, H, W, 1] */
  lesion: tf.Tensor4D
  mu: tf.Tensor2D
  logvar: tf.Tensor2D
  z: tf.Tensor2D
  /** mu of the re-encoded reconstruction; absent when the caller differentiates the regression term on its own (src/stages/visual/step.ts) and the term here is 0 */
  muTilde?: tf.Tensor2D
  /** frozen VGG-19 features (src/losses/perceptual.ts); absent = no perceptual term, as by default */
  perceptual?: PerceptualLoss
}

export interface SdnetLossTerms {
  total: tf.Scalar
  reconstruction: tf.Scalar
  kl: tf.Scalar
  dice: tf.Scalar
  regression: tf.Scalar
  perceptual?: tf.Scalar
}

export function sdnetLoss(i: SdnetLossInputs, w: SdnetLossWeights = SDNET_LOSS_WEIGHTS): SdnetLossTerms {
  const reconstruction = l1Loss(i.reco, i.x)
  const kl = gaussianKl(i.mu, i.logvar)
  const dice = globalDiceLoss(i.lesion, i.mask)
  const regression = i.muTilde ? l1Loss(i.muTilde, stopGradient(i.z)) : tf.scalar(0)
  const weighted = [
    reconstruction.mul(w.reconstruction),
    kl.mul(w.kl),
    dice.mul(w.dice),
    ...(i.muTilde ? [regression.mul(w.regression)] : [])
  ]
  if (!i.perceptual) return {total: tf.addN(weighted) as tf.Scalar, reconstruction, kl, dice, regression}
  const perceptual = i.perceptual.loss(i.reco, i.x)
  return {
    total: tf.addN([...weighted, perceptual.mul(w.perceptual)]) as tf.Scalar,
    reconstruction,
    kl,
    dice,
    regression,
    perceptual
  }
}
