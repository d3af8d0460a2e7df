// What generate and finetune-dit use to turn prompts into the two HFFM inputs (docs/REFERENCE.md
// §5.2): the frozen encoder recorded in text/model.safetensors __metadata__.encoder, then the
// trained anatomy and style heads in eval mode.
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../errors.js'
import {pathExists} from '../io/atomic.js'
import {readSafetensors, readSafetensorsMetadata} from '../io/safetensors.js'
import type {MedgenConfig} from '../config/schema.js'
import {kindOf, torchToTf} from '../models/params.js'
import {
  textDisentanglerConfigFrom,
  textDisentanglerForward,
  textDisentanglerLinears,
  type TextDisentanglerConfig
} from '../models/text-disentangler.js'
import {createEncoderFromDescription, type EncoderDescription} from './encoder.js'
import {runLayout} from '../run/layout.js'

export interface ConditionedTexts {
  /** t_a rows [B*anatomyDim] */
  anatomy: Float32Array
  /** t_m rows [B*styleDim] */
  style: Float32Array
  /** the frozen sentence embedding E [B,H] (caller disposes) */
  embedding: tf.Tensor2D
  anatomyDim: number
  styleDim: number
}

export interface TextConditioner {
  encoder: EncoderDescription
  model: TextDisentanglerConfig
  encodeTexts(texts: string[]): Promise<ConditionedTexts>
  dispose(): void
}

export async function loadTextConditioner(runDir: string, config: MedgenConfig): Promise<TextConditioner> {
  const path = runLayout(runDir).text.model
  if (!(await pathExists(path))) throw new UserError(`${path}: missing; run \`medgen align-text\` first`)
  const meta = await readSafetensorsMetadata(path)
  let description: EncoderDescription | null = null
  let model: TextDisentanglerConfig | null = null
  try {
    description = JSON.parse(meta.encoder)
    // older runs stored one featureDim for both heads; it is read as anatomyDim = styleDim
    model = textDisentanglerConfigFrom(JSON.parse(meta.config))
  } catch {
    model = null
  }
  if (!model || !description)
    throw new UserError(
      `${path}: __metadata__ lacks the encoder/config description; rerun \`medgen align-text --force\``
    )
  // A BERT folder given in this config wins over the path recorded at training time (runs move).
  if (description.kind !== 'hashed' && config.weights.text) description = {...description, path: config.weights.text}
  const encoder = await createEncoderFromDescription(description)
  if (encoder.hidden !== model.embedDim) {
    encoder.dispose()
    throw new UserError(
      `${path}: heads expect ${model.embedDim}-wide embeddings but the encoder gives ${encoder.hidden}`
    )
  }
  const state = await readSafetensors(path)
  const params = new Map<string, tf.Tensor>()
  for (const [name] of textDisentanglerLinears(model)) {
    for (const suffix of ['weight', 'bias']) {
      const host = state.get(`${name}.${suffix}`)
      if (!host) throw new UserError(`${path}: tensor ${name}.${suffix} missing`)
      params.set(`${name}.${suffix}`, torchToTf(host, kindOf(host.shape, `${name}.${suffix}`)))
    }
  }
  return {
    encoder: description,
    model,
    async encodeTexts(texts) {
      const enc = await encoder.encode(texts)
      tf.dispose([enc.tokens, enc.mask])
      const out = tf.tidy(() => textDisentanglerForward(params, model, enc.pooled, {training: false}))
      const anatomy = new Float32Array((await out.anatomy.data()) as Float32Array)
      const style = new Float32Array((await out.style.data()) as Float32Array)
      tf.dispose([out.anatomy, out.style, out.reconstruction])
      return {anatomy, style, embedding: enc.pooled, anatomyDim: model.anatomyDim, styleDim: model.styleDim}
    },
    dispose() {
      encoder.dispose()
      for (const t of params.values()) t.dispose()
    }
  }
}
