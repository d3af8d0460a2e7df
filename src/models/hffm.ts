// Condition tokens for the DiT. `hffm` is the authors' MultiFeatureProjector (docs/REFERENCE.md §5.2):
// per feature LayerNorm(8, eps 1e-6) -> Linear 8->256 -> exact GELU -> Linear 256->caption_channels,
// plus a learned type embedding, giving exactly two tokens [anatomy; style]. The anatomy input is
// 24 wide instead of 8 with visual.anatomyVector 'occupancy+shape' (anatomyDim; styleDim stays 8). The other modes are
// the paper's ablations (Table 3): `concat` (text embedding ⊕ features -> one token), `text`
// (the text encoder's token sequence itself, w/o disentanglement) and `class` (a class token).
// Deliberate fix: a learned null pair `null_tokens` replaces the condition with probability
// cond_dropout during training, so classifier-free guidance has an unconditional branch.
import * as tf from '@tensorflow/tfjs'
import {trainableFromTorch, xavierUniformValues} from './params.js'
import {dense, geluExact, layerNormAffine, param, type Weights} from './layers.js'
import type {Rng} from '../util/rng.js'

export type ConditioningMode = 'hffm' | 'concat' | 'text' | 'class'

export interface ConditionerConfig {
  mode: ConditioningMode
  captionChannels: number
  /** width of the anatomy feature vector (8 in the paper; 24 with occupancy+shape) */
  anatomyDim: number
  /** width of the style feature vector (8 in the paper) */
  styleDim: number
  /** HFFM MLP width (256 in the authors' code) */
  hidden: number
  /** text embedding width (concat / text modes) */
  textDim: number
  /** number of classes (class mode) */
  numClasses: number
}

/** A conditioner config as stored by finetune-dit (dit.json); older runs wrote one featureDim for both features. */
export function conditionerConfigFrom(raw: ConditionerConfig & {featureDim?: number}): ConditionerConfig {
  const {featureDim, ...rest} = raw
  return {...rest, anatomyDim: raw.anatomyDim ?? featureDim ?? 8, styleDim: raw.styleDim ?? featureDim ?? 8}
}

export interface Condition {
  tokens: tf.Tensor3D
  mask: tf.Tensor2D
}

export interface ConditionInputs {
  anatomy: tf.Tensor2D
  style: tf.Tensor2D
  /** pooled text embedding [B,E] (concat mode) */
  textPooled?: tf.Tensor2D
  /** token sequence [B,L,E] and its mask [B,L] (text mode) */
  textTokens?: tf.Tensor3D
  textMask?: tf.Tensor2D
  /** class index per row (class mode) */
  classIndex?: number[]
}

/** Parameter shapes in PyTorch layout (Linear [out,in]). */
export function conditionerParamShapes(c: ConditionerConfig): Map<string, number[]> {
  const s = new Map<string, number[]>()
  const lin = (name: string, out: number, inp: number): void => {
    s.set(`${name}.weight`, [out, inp])
    s.set(`${name}.bias`, [out])
  }
  if (c.mode === 'hffm') {
    for (const [norm, proj, width] of [
      ['norm_a', 'anatomy_proj', c.anatomyDim],
      ['norm_m', 'modality_proj', c.styleDim]
    ] as const) {
      s.set(`${norm}.weight`, [width])
      s.set(`${norm}.bias`, [width])
      lin(`${proj}.0`, c.hidden, width)
      lin(`${proj}.2`, c.captionChannels, c.hidden)
    }
    s.set('type_embeddings', [2, c.captionChannels])
  } else if (c.mode === 'concat') {
    lin('concat_proj', c.captionChannels, c.textDim + c.anatomyDim + c.styleDim)
  } else if (c.mode === 'text') {
    if (c.textDim !== c.captionChannels) lin('text_proj', c.captionChannels, c.textDim)
  } else {
    s.set('class_embedding', [c.numClasses, c.captionChannels])
  }
  s.set('null_tokens', [2, c.captionChannels])
  return s
}

/** Xavier-uniform Linears, zero biases, LayerNorm 1/0, N(0, 0.02^2) embeddings (docs/REFERENCE.md §5.2). */
export function initConditioner(c: ConditionerConfig, rng: Rng): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>()
  for (const [name, shape] of conditionerParamShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1)
    let v: Float32Array
    if (/^norm_[am]\.weight$/.test(name)) v = new Float32Array(n).fill(1)
    else if (name.endsWith('.bias')) v = new Float32Array(n)
    else if (name.endsWith('.weight')) v = xavierUniformValues(n, shape[1], shape[0], rng)
    else v = rng.normalArray(n, 0.02)
    out.set(name, trainableFromTorch(name, shape, v))
  }
  return out
}

function hffmToken(w: Weights, norm: string, proj: string, feature: tf.Tensor2D, typeRow: number): tf.Tensor3D {
  const n = layerNormAffine(feature, param(w, `${norm}.weight`), param(w, `${norm}.bias`), 1e-6)
  const h = geluExact(dense(n, param(w, `${proj}.0.weight`), param(w, `${proj}.0.bias`)))
  const tok = dense(h, param(w, `${proj}.2.weight`), param(w, `${proj}.2.bias`))
  const type = param(w, 'type_embeddings').slice([typeRow, 0], [1, -1])
  return tok.add(type).expandDims(1) as tf.Tensor3D
}

/** The condition sequence fed to PixArt's caption projection as encoder_hidden_states. */
export function conditionTokens(w: Weights, c: ConditionerConfig, inp: ConditionInputs): Condition {
  const b = inp.anatomy.shape[0]
  let tokens: tf.Tensor3D
  let mask: tf.Tensor2D
  if (c.mode === 'hffm') {
    tokens = tf.concat(
      [hffmToken(w, 'norm_a', 'anatomy_proj', inp.anatomy, 0), hffmToken(w, 'norm_m', 'modality_proj', inp.style, 1)],
      1
    )
    mask = tf.ones([b, 2])
  } else if (c.mode === 'concat') {
    if (!inp.textPooled) throw new Error('concat conditioning needs the pooled text embedding')
    const joined = tf.concat([inp.textPooled, inp.anatomy, inp.style], 1)
    tokens = dense(joined, param(w, 'concat_proj.weight'), param(w, 'concat_proj.bias')).expandDims(1) as tf.Tensor3D
    mask = tf.ones([b, 1])
  } else if (c.mode === 'text') {
    if (!inp.textTokens || !inp.textMask) throw new Error('text conditioning needs the text token sequence and mask')
    tokens = w.params.has('text_proj.weight')
      ? (dense(inp.textTokens, param(w, 'text_proj.weight'), param(w, 'text_proj.bias')) as tf.Tensor3D)
      : inp.textTokens
    mask = inp.textMask
  } else {
    if (!inp.classIndex) throw new Error('class conditioning needs class indices')
    tokens = tf.gather(param(w, 'class_embedding'), tf.tensor1d(inp.classIndex, 'int32')).expandDims(1) as tf.Tensor3D
    mask = tf.ones([b, 1])
  }
  return {tokens, mask}
}

/**
 * The learned null pair for n rows, padded to `length` tokens (padding masked out) so it can be
 * batched with a condition of that length (classifier-free guidance, condition dropout).
 */
export function nullCondition(w: Weights, n: number, length = 2): Condition {
  const pair = param(w, 'null_tokens')
  const width = pair.shape[1]!
  const used = Math.min(2, length)
  let one: tf.Tensor = pair.slice([0, 0], [used, width])
  if (length > used) one = tf.concat([one, tf.zeros([length - used, width])], 0)
  const tokens = tf.tile(one.expandDims(0), [n, 1, 1]) as tf.Tensor3D
  const maskRow = tf.tensor1d(Array.from({length}, (_, i) => (i < used ? 1 : 0)))
  return {tokens, mask: tf.tile(maskRow.expandDims(0), [n, 1]) as tf.Tensor2D}
}

/** Rows where drop[i] is true take the null condition (differentiable in both branches). */
export function dropCondition(cond: Condition, nul: Condition, drop: boolean[]): Condition {
  const m = tf.tensor1d(drop.map(d => (d ? 1 : 0)))
  const m3 = m.reshape([-1, 1, 1])
  const m2 = m.reshape([-1, 1])
  return {
    tokens: cond.tokens.mul(tf.scalar(1).sub(m3)).add(nul.tokens.mul(m3)) as tf.Tensor3D,
    mask: cond.mask.mul(tf.scalar(1).sub(m2)).add(nul.mask.mul(m2)) as tf.Tensor2D
  }
}
