// The DiT being trained: a PixArt transformer (frozen base + LoRA, or a small one trained from
// scratch when no base weights are given) plus the condition-token module (HFFM or an ablation).
import * as tf from '@tensorflow/tfjs'
import type {PixArtConfig} from '../../models/pixart/config.js'
import {pixartForward, pixartParamShapes, initPixArtParams} from '../../models/pixart/transformer.js'
import {adaptableModules, createLora, loraParams, type LoraSet} from '../../models/lora.js'
import {
  conditionTokens,
  initConditioner,
  type Condition,
  type ConditionerConfig,
  type ConditionInputs
} from '../../models/hffm.js'
import type {Rng} from '../../util/rng.js'
import type {DitTrainingSet} from './batch.js'

export interface DitModelSpec {
  transformer: PixArtConfig
  conditioner: ConditionerConfig
  space: 'pixel' | 'latent'
  latentScale: number
  lora: {rank: number; alpha: number; targets: string[]}
}

export interface DitModel {
  spec: DitModelSpec
  /** transformer parameters: frozen tensors (LoRA mode) or trainable variables (from scratch) */
  base: Map<string, tf.Tensor>
  lora: LoraSet | null
  cond: Map<string, tf.Variable>
  fromScratch: boolean
}

/** Base weights given: freeze them and add LoRA. None: initialise the whole transformer to train. */
export function buildDitModel(spec: DitModelSpec, base: Map<string, tf.Tensor> | null, rng: Rng): DitModel {
  const cond = initConditioner(spec.conditioner, rng.fork('conditioner'))
  if (!base) {
    return {
      spec,
      base: initPixArtParams(spec.transformer, rng.fork('transformer')),
      lora: null,
      cond,
      fromScratch: true
    }
  }
  const modules = adaptableModules(pixartParamShapes(spec.transformer))
  const lora = createLora(modules, spec.lora.targets, spec.lora.rank, spec.lora.alpha, rng.fork('lora'))
  return {spec, base, lora, cond, fromScratch: false}
}

/** Every trainable variable under a stable name: `transformer.<...>` and `hffm.<...>`. */
export function trainableParams(m: DitModel): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>()
  const transformer = m.fromScratch ? m.base : loraParams(m.lora!)
  for (const [k, v] of transformer) out.set(`transformer.${k}`, v as tf.Variable)
  for (const [k, v] of m.cond) out.set(`hffm.${k}`, v)
  return out
}

export function countTrainable(m: DitModel): number {
  let n = 0
  for (const v of trainableParams(m).values()) n += v.size
  return n
}

/** Condition inputs (tensors) for dataset rows. */
export function conditionInputsFor(set: DitTrainingSet, indices: number[]): ConditionInputs {
  const b = indices.length
  const gather = (pick: (i: number) => Float32Array | undefined, width: number, what: string): Float32Array => {
    const out = new Float32Array(b * width)
    indices.forEach((item, r) => {
      const v = pick(item)
      if (!v) throw new Error(`training example ${set.examples[item].id} has no ${what}`)
      out.set(v, r * width)
    })
    return out
  }
  const inp: ConditionInputs = {
    anatomy: tf.tensor2d(
      gather(i => set.examples[i].anatomy, set.anatomyDim, 'anatomy features'),
      [b, set.anatomyDim]
    ),
    style: tf.tensor2d(
      gather(i => set.examples[i].style, set.styleDim, 'style features'),
      [b, set.styleDim]
    ),
    classIndex: indices.map(i => set.examples[i].classIndex)
  }
  if (set.textDim > 0 && set.examples[0].textPooled)
    inp.textPooled = tf.tensor2d(
      gather(i => set.examples[i].textPooled, set.textDim, 'text embedding'),
      [b, set.textDim]
    )
  if (set.textLength > 0 && set.examples[0].textTokens) {
    inp.textTokens = tf.tensor3d(
      gather(i => set.examples[i].textTokens, set.textLength * set.textDim, 'text tokens'),
      [b, set.textLength, set.textDim]
    )
    inp.textMask = tf.tensor2d(
      gather(i => set.examples[i].textMask, set.textLength, 'text mask'),
      [b, set.textLength]
    )
  }
  return inp
}

export function conditionOf(m: DitModel, inp: ConditionInputs): Condition {
  return conditionTokens({params: m.cond}, m.spec.conditioner, inp)
}

/** The transformer's full output [B,H,W,out_channels] (epsilon first, then the sigma head). */
export function predictNoise(
  m: DitModel,
  x: tf.Tensor4D,
  t: number | number[],
  cond: Condition,
  checkpointBlocks = false
): tf.Tensor4D {
  return pixartForward({params: m.base, lora: m.lora}, m.spec.transformer, {
    x,
    timesteps: t,
    context: cond.tokens,
    mask: cond.mask,
    checkpointBlocks
  }).sample
}
