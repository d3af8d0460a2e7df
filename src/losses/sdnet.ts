// SDNet's training objective (REFERENCE.md §3.4; paper Eq. 1 lists reconstruction, KL and Dice;
// the latent regression term exists only in the authors' code):
//   1 * L1(reco, x) + 0.01 * KL + 10 * Dice + 1 * L1(mu~, stopgrad(z))  [+ 0.1 * perceptual]
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../errors.js'
import {gaussianKl, l1Loss} from './basic.js'
import {globalDiceLoss} from './dice.js'
import {stopGradient} from './stop-gradient.js'

export interface SdnetLossWeights { reconstruction: number, kl: number, dice: number, regression: number, perceptual: number }

export const SDNET_LOSS_WEIGHTS: SdnetLossWeights = {reconstruction: 1, kl: 0.01, dice: 10, regression: 1, perceptual: 0.1}

export interface SdnetLossInputs {
  x: tf.Tensor4D
  mask: tf.Tensor4D
  reco: tf.Tensor4D
  /** lesion channel of the segmentor, [B, H, W, 1] */
  lesion: tf.Tensor4D
  mu: tf.Tensor2D
  logvar: tf.Tensor2D
  z: tf.Tensor2D
  muTilde: tf.Tensor2D
}

export interface SdnetLossTerms { total: tf.Scalar, reconstruction: tf.Scalar, kl: tf.Scalar, dice: tf.Scalar, regression: tf.Scalar }

export function sdnetLoss(i: SdnetLossInputs, w: SdnetLossWeights = SDNET_LOSS_WEIGHTS): SdnetLossTerms {
  const reconstruction = l1Loss(i.reco, i.x)
  const kl = gaussianKl(i.mu, i.logvar)
  const dice = globalDiceLoss(i.lesion, i.mask)
  const regression = l1Loss(i.muTilde, stopGradient(i.z))
  const total = tf.addN([reconstruction.mul(w.reconstruction), kl.mul(w.kl), dice.mul(w.dice), regression.mul(w.regression)]) as tf.Scalar
  return {total, reconstruction, kl, dice, regression}
}

/** The perceptual term needs frozen VGG-19 weights, which medgen cannot download or load yet. */
export function requireNoPerceptual(weightsPath: string): void {
  if (weightsPath) {
    throw new UserError(`visual.perceptual.weights: perceptual loss needs a VGG-19 weights loader, which is not available yet (set it to "" to train without the perceptual term, as the default does)`)
  }
}
