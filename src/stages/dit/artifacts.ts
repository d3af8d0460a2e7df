// What finetune-dit leaves in <run>/dit/ (DEVELOPING.md contracts):
//   dit.json                      how to rebuild the model (space, configs, class names, text encoder)
//   lora.safetensors + adapter_config.json   peft names, when a base transformer was given
//   transformer/config.json + diffusion_pytorch_model.safetensors   the whole transformer, when trained from scratch
//   hffm.safetensors              the condition module (authors' names) + the learned null pair
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {writeJsonAtomic} from '../../io/atomic.js'
import {writeSafetensors} from '../../io/safetensors.js'
import {exportParams, kindOf} from '../../models/params.js'
import {adapterConfigBeside, peftWeightsBeside, saveLora} from '../../models/lora.js'
import {toDiffusersConfig, type PixArtConfig} from '../../models/pixart/config.js'
import type {ConditionerConfig} from '../../models/hffm.js'
import type {DitModel} from './model.js'
import {diffusersFiles, runLayout} from '../../run/layout.js'

export interface DitMeta {
  format: 'medgen-dit/1'
  space: 'pixel' | 'latent'
  preset: string
  transformer: PixArtConfig
  conditioner: ConditionerConfig
  /** latents = VAE posterior sample * latentScale (1 in pixel space) */
  latentScale: number
  /** weights.pixart used as the frozen base ('' = trained from scratch) */
  baseWeights: string
  /** the VAE folder; relative to the dit folder when vaeTrained */
  vae: string
  /** the VAE was trained by finetune-dit (dit.vae.train) and lives in <dit>/vae */
  vaeTrained?: boolean
  trainedFromScratch: boolean
  lora: {rank: number; alpha: number; targets: string[]} | null
  classNames: string[]
  /** text/model.safetensors __metadata__.encoder, for the concat/text modes */
  textEncoder: string | null
  textLength: number
  /** pixel space: model values x' = (x - mean) / scale per channel, x in [-1, 1] (batch.ts centrePixels) */
  pixelNormalization: {mean: number[]; scale: number[]} | null
  /** what the transformer's first C output channels predict; absent (older runs) = epsilon */
  predictionType?: 'epsilon' | 'v'
  /** pixel space: the data range in model units, to which the samplers clip x0; null = no clipping */
  clipRange?: number | null
}

/** Linear weights go back to [out,in], convs to OIHW (src/models/params.ts). */
const torchKinds = (name: string, t: tf.Tensor): ReturnType<typeof kindOf> => kindOf(t.shape, name)

/** The VAE folder a latent DiT decodes through: its own (dit.vae.train, under <run>/dit), the recorded folder, else weights.vae; '' when none. */
export function ditVaeFolder(runDir: string, meta: DitMeta, configuredVae: string): string {
  return meta.vaeTrained ? join(runLayout(runDir).dit.dir, meta.vae) : meta.vae || configuredVae
}

export async function saveDitArtifacts(runDir: string, model: DitModel, meta: DitMeta): Promise<string[]> {
  const layout = runLayout(runDir).dit
  const outputs: string[] = []
  const condMeta = {mode: model.spec.conditioner.mode, config: JSON.stringify(model.spec.conditioner)}
  await writeSafetensors(layout.hffm, await exportParams(model.cond, torchKinds), condMeta)
  outputs.push(layout.hffm)
  if (model.fromScratch) {
    const dir = layout.transformer
    await writeSafetensors(join(dir, diffusersFiles.weights), await exportParams(model.base, torchKinds), {
      format: 'pt'
    })
    await writeJsonAtomic(join(dir, diffusersFiles.config), toDiffusersConfig(model.spec.transformer))
    outputs.push(dir)
  } else {
    await saveLora(layout.lora, model.lora!, meta.baseWeights)
    outputs.push(layout.lora, peftWeightsBeside(layout.lora), adapterConfigBeside(layout.lora))
  }
  await writeJsonAtomic(layout.meta, meta)
  outputs.push(layout.meta)
  return outputs
}
