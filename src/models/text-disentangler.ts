// TextDisentangler (docs/REFERENCE.md §4.3, paper §2.2): two heads map the sentence embedding E
// to an anatomy vector t_a and a style ("modality") vector t_m, and an auxiliary decoder
// rebuilds E from [t_a, t_m].
//   anatomy_encoder: Linear(H,512) ReLU Dropout(0.1) Linear(512,A)                      -> keys .0, .3
//   modality_encoder: Linear(H,512) ReLU Dropout(0.1) Linear(512,S)                     -> keys .0, .3
//   decoder: Linear(A+S,512) ReLU Linear(512,H)                                          -> keys .0, .2
// The authors have A = S = 8 (decoder 16 -> 512); A = 24 with visual.anatomyVector
// 'occupancy+shape' (per-channel occupancy, compactness, elongation).
// Parameters use the PyTorch state_dict names in tfjs layout (Linear weights [in,out]).
import * as tf from '@tensorflow/tfjs'
import type {ParamMap} from './params.js'
import {Rng} from '../util/rng.js'

export interface TextDisentanglerConfig {
  /** width of the text embedding E (768 for ClinicalBERT) */
  embedDim: number
  hidden: number
  /** width of the anatomy head: the visual anatomy vector (8 occupancies, or 24 with shape) */
  anatomyDim: number
  /** width of the style head: the visual style mu (8) */
  styleDim: number
  dropout: number
}

export function textDisentanglerConfig(
  embedDim: number,
  dims: {anatomyDim: number; styleDim: number} = {anatomyDim: 8, styleDim: 8}
): TextDisentanglerConfig {
  return {embedDim, hidden: 512, anatomyDim: dims.anatomyDim, styleDim: dims.styleDim, dropout: 0.1}
}

/** A config as stored in text/model.safetensors; older runs wrote one `featureDim` for both heads. */
export function textDisentanglerConfigFrom(raw: Record<string, unknown>): TextDisentanglerConfig | null {
  const num = (v: unknown): number | undefined =>
    typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined
  const legacy = num(raw.featureDim)
  const anatomyDim = num(raw.anatomyDim) ?? legacy
  const styleDim = num(raw.styleDim) ?? legacy
  const embedDim = num(raw.embedDim)
  const hidden = num(raw.hidden)
  if (!anatomyDim || !styleDim || !embedDim || !hidden) return null
  return {embedDim, hidden, anatomyDim, styleDim, dropout: typeof raw.dropout === 'number' ? raw.dropout : 0.1}
}

/** [name, in, out] of every Linear, in state_dict order. */
export function textDisentanglerLinears(c: TextDisentanglerConfig): Array<[string, number, number]> {
  return [
    ['anatomy_encoder.0', c.embedDim, c.hidden],
    ['anatomy_encoder.3', c.hidden, c.anatomyDim],
    ['modality_encoder.0', c.embedDim, c.hidden],
    ['modality_encoder.3', c.hidden, c.styleDim],
    ['decoder.0', c.anatomyDim + c.styleDim, c.hidden],
    ['decoder.2', c.hidden, c.embedDim]
  ]
}

/** PyTorch's nn.Linear default init (kaiming_uniform a=sqrt(5)): weight and bias ~ U(+-1/sqrt(in)). */
export function initTextDisentangler(c: TextDisentanglerConfig, seed: number): ParamMap {
  const rng = new Rng(seed).fork('text-disentangler-init')
  const params: ParamMap = new Map()
  for (const [name, fanIn, fanOut] of textDisentanglerLinears(c)) {
    const bound = 1 / Math.sqrt(fanIn)
    const w = new Float32Array(fanIn * fanOut)
    for (let i = 0; i < w.length; i++) w[i] = rng.range(-bound, bound)
    const b = new Float32Array(fanOut)
    for (let i = 0; i < b.length; i++) b[i] = rng.range(-bound, bound)
    const [wt, bt] = [tf.tensor2d(w, [fanIn, fanOut]), tf.tensor1d(b)]
    params.set(`${name}.weight`, tf.variable(wt, true))
    params.set(`${name}.bias`, tf.variable(bt, true))
    tf.dispose([wt, bt])
  }
  return params
}

export type TextDisentanglerOutputs = {anatomy: tf.Tensor2D; style: tf.Tensor2D; reconstruction: tf.Tensor2D}

function dense(params: Map<string, tf.Tensor>, name: string, x: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(x, params.get(`${name}.weight`)! as tf.Tensor2D).add(params.get(`${name}.bias`)!) as tf.Tensor2D
}

/** training=true applies dropout (seeded); eval mode (the features step, docs/REFERENCE.md §4.4) does not. */
export function textDisentanglerForward(
  params: Map<string, tf.Tensor>,
  c: TextDisentanglerConfig,
  embedding: tf.Tensor2D,
  opts: {training: boolean; dropoutSeeds?: [number, number]}
): TextDisentanglerOutputs {
  const head = (prefix: string, seed: number | undefined) => {
    let h = tf.relu(dense(params, `${prefix}.0`, embedding))
    if (opts.training && c.dropout > 0) h = tf.dropout(h, c.dropout, undefined, seed) as tf.Tensor2D
    return dense(params, `${prefix}.3`, h)
  }
  const anatomy = head('anatomy_encoder', opts.dropoutSeeds?.[0])
  const style = head('modality_encoder', opts.dropoutSeeds?.[1])
  const reconstruction = dense(params, 'decoder.2', tf.relu(dense(params, 'decoder.0', tf.concat([anatomy, style], 1))))
  return {anatomy, style, reconstruction}
}
