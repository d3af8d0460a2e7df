// classify/model.safetensors: the `real`-protocol classifier of the first seed, in PyTorch
// layout with its preset, classes and input size in __metadata__. eval's dfd loads it to embed
// images in the dataset-specific feature space (the penultimate layer).
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {readSafetensors, readSafetensorsMetadata, writeSafetensors} from '../../io/safetensors.js'
import {pathExists} from '../../io/atomic.js'
import {exportParams} from '../../models/params.js'
import {
  classifierKind,
  loadClassifierState,
  type ClassifierModel,
  type ClassifierPreset,
  type InputNorm
} from '../../models/classifier/index.js'

export interface ClassifyModelInfo {
  preset: ClassifierPreset
  classes: string[]
  imageSize: number
  protocol: string
  seed: number
  inputNorm?: InputNorm
}

export async function saveClassifyModel(path: string, m: ClassifierModel, info: ClassifyModelInfo): Promise<void> {
  const all = new Map<string, tf.Tensor>([...m.params, ...m.buffers])
  const state = await exportParams(all, (name, t) => classifierKind(name, t.shape))
  await writeSafetensors(path, state, {
    config: JSON.stringify({...info, ...(m.inputNorm ? {inputNorm: m.inputNorm} : {})}),
    producer: 'medgen classify'
  })
}

export async function loadClassifyModel(path: string): Promise<{model: ClassifierModel; info: ClassifyModelInfo}> {
  if (!(await pathExists(path)))
    throw new UserError(`${path}: missing; run \`medgen classify\` first (dfd uses its classifier)`)
  const meta = await readSafetensorsMetadata(path)
  let info: ClassifyModelInfo
  try {
    info = JSON.parse(meta.config)
  } catch {
    throw new UserError(`${path}: no classifier config in __metadata__; not written by medgen classify`)
  }
  const model = loadClassifierState(info.preset, info.classes.length, await readSafetensors(path), path)
  if (info.inputNorm) model.inputNorm = info.inputNorm
  return {model, info}
}
