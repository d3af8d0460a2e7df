// The gradients of one SDNet training step (docs/REFERENCE.md §3.3-3.4), in one backward pass or,
// to fit the authors' 224 px model in wasm's 4 GB heap, in two:
//   1. forward to the reconstruction without a tape (only reco and z are kept);
//   2. differentiate the latent-regression term, 1 * L1(mu~(reco), stopgrad(z)), with respect to
//      the re-encoding pass's parameters and to reco itself;
//   3. forward again with a tape and differentiate the other terms plus sum(reco * dL_reg/dreco),
//      which hands step 2's gradient on to the decoder, style and anatomy encoders.
// Adding 2 and 3 gives the same gradients as one pass (the split is the chain rule at reco);
// the cost is one more untaped forward to the reconstruction, about a fifth of a step. The
// Gumbel and reparameterisation draws are seeded, so the repeated forward is identical.
// BatchNorm statistics are recorded in the same order as one pass (image, then reconstruction).
import * as tf from '@tensorflow/tfjs'
import {l1Loss} from '../../losses/basic.js'
import type {PerceptualLoss} from '../../losses/perceptual.js'
import {SDNET_LOSS_WEIGHTS, sdnetLoss} from '../../losses/sdnet.js'
import type {ForwardNoise, SDNet} from '../../models/sdnet/model.js'
import type {BatchStat} from '../../models/sdnet/layers.js'
import {gradientsByParamName} from '../../train/gradients.js'

export interface StepGradients {
  /** by state_dict name */
  grads: Map<string, tf.Tensor>
  /** total loss and its terms, as numbers */
  loss: number
  terms: {reconstruction: number; kl: number; dice: number; regression: number; perceptual?: number}
  /** BatchNorm batch statistics in call order, for model.updateRunningStats */
  stats: BatchStat[]
}

/** The re-encoding pass reads only these modules (anatomy U-Net and style encoder). */
const REENCODE_PREFIXES = ['a_encoder.', 'm_encoder.']

let recoCount = 0

function scalars(ts: tf.Tensor[]): number[] {
  return ts.map(t => (t.dataSync() as Float32Array)[0])
}

export function sdnetStepGradients(
  model: SDNet,
  x: tf.Tensor4D,
  mask: tf.Tensor4D,
  noise: ForwardNoise,
  opts: {perceptual?: PerceptualLoss; splitBackward?: boolean} = {}
): StepGradients {
  // by state_dict name; the reconstruction's own gradient (step 2) is no parameter and is left out
  const byName = (grads: tf.NamedTensorMap): Map<string, tf.Tensor> => gradientsByParamName(model.params, grads)
  const varList = [...model.params.values()]
  const stats: BatchStat[] = []

  if (!opts.splitBackward) {
    let kept: tf.Scalar[] = []
    const {value, grads} = tf.variableGrads(() => {
      const out = model.forward(model.context(true, stats), x, noise)
      const lesion = out.seg.slice([0, 0, 0, 1], [-1, -1, -1, 1]) as tf.Tensor4D
      const t = sdnetLoss({
        x,
        mask,
        reco: out.reco,
        lesion,
        mu: out.mu,
        logvar: out.logvar,
        z: out.z,
        muTilde: out.muTilde!,
        perceptual: opts.perceptual
      })
      kept = [t.reconstruction, t.kl, t.dice, t.regression, ...(t.perceptual ? [t.perceptual] : [])].map(s =>
        tf.keep(s)
      )
      return t.total
    }, varList)
    const [loss, reconstruction, kl, dice, regression, perceptual] = scalars([value, ...kept])
    tf.dispose([value, ...kept])
    return {
      grads: byName(grads),
      loss,
      terms: {reconstruction, kl, dice, regression, ...(perceptual === undefined ? {} : {perceptual})},
      stats
    }
  }

  // 1. untaped forward to the reconstruction (statistics are recorded in step 3)
  const {reco, z} = tf.tidy(() => {
    const out = model.forwardToReconstruction(model.context(true), x, noise)
    return {reco: out.reco, z: out.z}
  })
  // 2. the regression term through the re-encoding pass
  const reencodeStats: BatchStat[] = []
  const recoVar = tf.variable(reco, true, `medgen-sdnet-reco-${recoCount++}`)
  const reencodeVars = [...model.params]
    .filter(([name]) => REENCODE_PREFIXES.some(p => name.startsWith(p)))
    .map(([, v]) => v)
  const regressionPass = tf.variableGrads(() => {
    const muTilde = model.reencode(model.context(true, reencodeStats), recoVar as tf.Variable<tf.Rank.R4>, noise)
    return l1Loss(muTilde, z).mul(SDNET_LOSS_WEIGHTS.regression) as tf.Scalar
  }, [recoVar, ...reencodeVars])
  const recoGrad = regressionPass.grads[recoVar.name]
  // 3. every other term, plus step 2's gradient handed on at reco
  let kept: tf.Scalar[] = []
  const mainPass = tf.variableGrads(() => {
    const out = model.forwardToReconstruction(model.context(true, stats), x, noise)
    const lesion = out.seg.slice([0, 0, 0, 1], [-1, -1, -1, 1]) as tf.Tensor4D
    const t = sdnetLoss({
      x,
      mask,
      reco: out.reco,
      lesion,
      mu: out.mu,
      logvar: out.logvar,
      z: out.z,
      perceptual: opts.perceptual
    })
    kept = [t.reconstruction, t.kl, t.dice, ...(t.perceptual ? [t.perceptual] : [])].map(s => tf.keep(s))
    return t.total.add(tf.sum(tf.mul(out.reco, recoGrad))) as tf.Scalar
  }, varList)
  stats.push(...reencodeStats)
  const grads = byName(mainPass.grads)
  for (const [name, g] of byName(regressionPass.grads)) {
    const main = grads.get(name)
    grads.set(name, main ? main.add(g) : g)
    if (main) tf.dispose([main, g])
  }
  const [regressionWeighted, reconstruction, kl, dice, perceptual] = scalars([regressionPass.value, ...kept])
  const w = SDNET_LOSS_WEIGHTS
  const regression = regressionWeighted / w.regression
  const loss =
    w.reconstruction * reconstruction +
    w.kl * kl +
    w.dice * dice +
    regressionWeighted +
    (perceptual === undefined ? 0 : w.perceptual * perceptual)
  tf.dispose([reco, z, recoVar, recoGrad, regressionPass.value, mainPass.value, ...kept])
  return {
    grads,
    loss,
    terms: {reconstruction, kl, dice, regression, ...(perceptual === undefined ? {} : {perceptual})},
    stats
  }
}
