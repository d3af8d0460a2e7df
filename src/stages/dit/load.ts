// The trained DiT of a run, ready for sampling (used by `generate`, issue 8). Final signature:
//
//   loadTrainedDit(runDir, config): Promise<TrainedDitModel> with
//     sampleShape: [H, W, C]            latent or pixel sample shape
//     latentScale: number               VAE scaling factor (1 in pixel space)
//     captionChannels: number
//     predict(x NHWC, t, {tokens, mask}): tf.Tensor4D   every output channel (epsilon first)
//     conditionFromFeatures(anatomy, style, n, extra?): {tokens, mask}
//        extra.classes (class mode), extra.textPooled / textTokens + textMask (concat / text
//        modes, host arrays); extra.prompts is accepted and ignored by hffm/class.
//     conditionFromPrompts(prompts, anatomy, style): Promise<{tokens, mask}>  (any mode; encodes
//        the prompts with the align-text encoder for concat/text)
//     nullCondition(n): {tokens, mask}  the learned null pair (padded for the text mode)
//     decode(x): tf.Tensor4D in [0, 1], NHWC (VAE decode, or undoing the pixel centring of dit.json)
//     dispose()
//
// LoRA is merged into the base weights (W' = W + scale * B A), so sampling costs nothing extra.
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {pathExists} from '../../io/atomic.js'
import {readSafetensors} from '../../io/safetensors.js'
import type {MedgenConfig} from '../../config/schema.js'
import {kindOf, torchToTf} from '../../models/params.js'
import {loadPixArt, readJsonFile} from '../../models/pixart/load.js'
import {pixartForward} from '../../models/pixart/transformer.js'
import {loadLora, mergeLora, disposeLora} from '../../models/lora.js'
import {loadVae} from '../../models/vae/load.js'
import {vaeDecode} from '../../models/vae/autoencoder.js'
import {
  conditionerConfigFrom,
  conditionTokens,
  nullCondition,
  type Condition,
  type ConditionInputs
} from '../../models/hffm.js'
import {ditVaeFolder, type DitMeta} from './artifacts.js'
import {encodeTexts} from './data.js'
import {DdpmSchedule} from '../../diffusion/noise-schedule.js'
import {runLayout} from '../../run/layout.js'

const trainSchedule = new DdpmSchedule()

export interface ConditionExtra {
  classes?: string[]
  prompts?: string[]
  textPooled?: Float32Array
  textTokens?: Float32Array
  textMask?: Float32Array
}

export interface TrainedDitModel {
  meta: DitMeta
  sampleShape: [number, number, number]
  latentScale: number
  captionChannels: number
  /** pixel space: the data range in model units the samplers clip x0 to (null: no clipping) */
  clipRange: number | null
  /** every output channel, epsilon first (a v-prediction model's v is converted to epsilon here) */
  predict(x: tf.Tensor4D, t: number | number[], cond: Condition): tf.Tensor4D
  conditionFromFeatures(anatomy: Float32Array, style: Float32Array, n: number, extra?: ConditionExtra): Condition
  conditionFromPrompts(prompts: string[], anatomy: Float32Array, style: Float32Array): Promise<Condition>
  nullCondition(n: number): Condition
  decode(x: tf.Tensor4D): tf.Tensor4D
  dispose(): void
}

export async function loadTrainedDit(runDir: string, config: MedgenConfig): Promise<TrainedDitModel> {
  const layout = runLayout(runDir).dit
  const metaPath = layout.meta
  if (!(await pathExists(metaPath))) throw new UserError(`${metaPath}: missing; run \`medgen finetune-dit\` first`)
  const meta = (await readJsonFile(metaPath)) as DitMeta
  if (meta.format !== 'medgen-dit/1') throw new UserError(`${metaPath}: unknown format ${String(meta.format)}`)
  // dit.json of older runs has one featureDim for both features
  meta.conditioner = conditionerConfigFrom(meta.conditioner)

  let params: Map<string, tf.Tensor>
  if (meta.trainedFromScratch) {
    params = (await loadPixArt(layout.transformer)).params
  } else {
    const basePath = meta.baseWeights || config.weights.pixart
    if (!basePath) throw new UserError(`${metaPath}: the LoRA needs its base transformer; set weights.pixart`)
    const base = (await loadPixArt(basePath)).params
    const lora = await loadLora(layout.lora)
    params = mergeLora(base, lora)
    for (const [k, t] of base) if (params.get(k) !== t) t.dispose()
    disposeLora(lora)
  }
  const condHost = await readSafetensors(layout.hffm)
  const cond = new Map<string, tf.Tensor>()
  for (const [k, h] of condHost) cond.set(k, torchToTf(h, kindOf(h.shape, k)))
  const condW = {params: cond}
  const cc = meta.conditioner

  let vae: Awaited<ReturnType<typeof loadVae>> | null = null
  if (meta.space === 'latent') {
    const folder = ditVaeFolder(runDir, meta, config.weights.vae)
    if (!folder) throw new UserError(`${metaPath}: a latent-space DiT needs weights.vae to decode`)
    vae = await loadVae(folder)
  }
  const p = meta.transformer
  const nullLength = cc.mode === 'hffm' ? 2 : cc.mode === 'text' ? meta.textLength : 1

  const fromInputs = (anatomy: Float32Array, style: Float32Array, n: number, extra: ConditionExtra = {}): Condition =>
    tf.tidy(() => {
      if (anatomy.length !== n * cc.anatomyDim || style.length !== n * cc.styleDim) {
        throw new UserError(
          `${metaPath}: the DiT takes ${cc.anatomyDim}-d anatomy and ${cc.styleDim}-d style features but got ${anatomy.length / n} and ${style.length / n}; ` +
            'align-text and finetune-dit must come from the same visual.anatomyVector (rerun finetune-dit)'
        )
      }
      const inp: ConditionInputs = {
        anatomy: tf.tensor2d(anatomy, [n, cc.anatomyDim]),
        style: tf.tensor2d(style, [n, cc.styleDim])
      }
      if (cc.mode === 'class') {
        if (!extra.classes) throw new UserError('class-conditioned DiT: generate must pass the class of each image')
        inp.classIndex = extra.classes.map(c => {
          const i = meta.classNames.indexOf(c)
          if (i < 0) throw new UserError(`class ${c}: not one the DiT was trained on (${meta.classNames.join(', ')})`)
          return i
        })
      }
      if (cc.mode === 'concat') {
        if (!extra.textPooled)
          throw new UserError("concat-conditioned DiT needs the prompts' text embeddings (use conditionFromPrompts)")
        inp.textPooled = tf.tensor2d(extra.textPooled, [n, cc.textDim])
      }
      if (cc.mode === 'text') {
        if (!extra.textTokens || !extra.textMask)
          throw new UserError("text-conditioned DiT needs the prompts' token embeddings (use conditionFromPrompts)")
        inp.textTokens = tf.tensor3d(extra.textTokens, [n, meta.textLength, cc.textDim])
        inp.textMask = tf.tensor2d(extra.textMask, [n, meta.textLength])
      }
      const c = conditionTokens(condW, cc, inp)
      return {tokens: c.tokens, mask: c.mask.toFloat() as tf.Tensor2D}
    })

  return {
    meta,
    sampleShape: [p.sample_size, p.sample_size, p.in_channels],
    latentScale: meta.latentScale,
    captionChannels: p.caption_channels,
    clipRange: meta.clipRange ?? null,
    predict: (x, t, c) =>
      tf.tidy(() => {
        const out = pixartForward({params}, p, {x, timesteps: t, context: c.tokens, mask: c.mask}).sample
        if ((meta.predictionType ?? 'epsilon') !== 'v') return out
        // eps = sqrt(1-acp) x_t + sqrt(acp) v on the first C channels, so every sampler works unchanged
        const n = x.shape[0]
        const ts = typeof t === 'number' ? new Array<number>(n).fill(t) : t
        const {signal, noise} = trainSchedule.coefficients(ts)
        const ch = x.shape[3]
        const v = out.slice([0, 0, 0, 0], [-1, -1, -1, ch])
        const eps = x.mul(noise).add(v.mul(signal))
        return (
          out.shape[3] > ch ? tf.concat([eps, out.slice([0, 0, 0, ch], [-1, -1, -1, -1])], 3) : eps
        ) as tf.Tensor4D
      }),
    conditionFromFeatures: fromInputs,
    async conditionFromPrompts(prompts, anatomy, style) {
      const n = prompts.length
      if (cc.mode !== 'concat' && cc.mode !== 'text') return fromInputs(anatomy, style, n, {prompts})
      if (!meta.textEncoder) throw new UserError(`${metaPath}: no text encoder recorded for ${cc.mode} conditioning`)
      const enc = await encodeTexts(meta.textEncoder, prompts)
      // pad/crop the token sequence to the training length
      const L = meta.textLength
      const tokens = new Float32Array(n * L * enc.dim)
      const mask = new Float32Array(n * L)
      const keep = Math.min(L, enc.length)
      for (let i = 0; i < n; i++) {
        tokens.set(enc.tokens.subarray(i * enc.length * enc.dim, (i * enc.length + keep) * enc.dim), i * L * enc.dim)
        mask.set(enc.mask.subarray(i * enc.length, i * enc.length + keep), i * L)
      }
      return fromInputs(anatomy, style, n, {textPooled: enc.pooled, textTokens: tokens, textMask: mask})
    },
    nullCondition: n =>
      tf.tidy(() => {
        const c = nullCondition(condW, n, nullLength)
        return {tokens: c.tokens, mask: c.mask}
      }),
    decode: x =>
      tf.tidy(() => {
        const norm = meta.pixelNormalization
        const img = vae
          ? vaeDecode({params: vae.params}, vae.config, x.div(meta.latentScale) as tf.Tensor4D)
          : norm
            ? x.mul(norm.scale).add(norm.mean)
            : x
        return tf.clipByValue(img.add(1).div(2), 0, 1) as tf.Tensor4D
      }),
    dispose() {
      tf.dispose([...params.values(), ...cond.values(), ...(vae ? [...vae.params.values()] : [])])
    }
  }
}
