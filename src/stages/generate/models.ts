// The two trained models `generate` needs, behind small interfaces so the sampling plumbing
// can be tested with fakes: the fine-tuned DiT (finetune-dit stage: LoRA merged, HFFM, null
// condition, decoder) and the text conditioner (align-text stage: text encoder + text heads,
// free text -> anatomy/style features, paper §2.2).
import type * as tf from '@tensorflow/tfjs'
import type {MedgenConfig} from '../../config/schema.js'
import type {Condition, Denoiser} from '../../diffusion/sample.js'
import {loadTextConditioner} from '../../text/conditioner.js'
import {loadTrainedDit} from '../dit/load.js'

export interface TrainedDit extends Denoiser {
  captionChannels: number
  /** pixel models trained from scratch: the data range the samplers clip x0 to (absent/null: none) */
  clipRange?: number | null
  /** the conditioning mode it was trained with (hffm, or an ablation: concat, text, class) */
  meta?: {conditioner: {mode: string}}
  /** HFFM(anatomy, style) -> condition tokens; anatomy/style are [n, dim] flattened; class mode reads extra.classes */
  conditionFromFeatures(
    anatomy: Float32Array,
    style: Float32Array,
    n: number,
    extra?: {classes?: string[]; prompts?: string[]}
  ): Condition
  /** the concat/text ablations need the prompts' own text embeddings */
  conditionFromPrompts?(prompts: string[], anatomy: Float32Array, style: Float32Array): Promise<Condition>
  /** latents (or pixels) -> images in [0, 1], NHWC */
  decode(x: tf.Tensor4D): tf.Tensor4D
  dispose(): void
}

export interface TextFeatures {
  anatomy: Float32Array
  style: Float32Array
  /** sentence embedding, owned (and disposed) by the caller */
  embedding?: tf.Tensor
}

export interface TextConditioner {
  encodeTexts(texts: string[]): Promise<TextFeatures>
  dispose?(): void
}

export interface GenerateModels {
  dit: TrainedDit
  text: TextConditioner
}

export type ModelLoader = (runDir: string, config: MedgenConfig) => Promise<GenerateModels>

/** Loads the trained DiT and the text conditioner of a run (the stages that make them own the code). */
export const loadRunModels: ModelLoader = async (runDir, config) => {
  const text = await loadTextConditioner(runDir, config)
  try {
    return {dit: await loadTrainedDit(runDir, config), text}
  } catch (err) {
    text.dispose()
    throw err
  }
}
