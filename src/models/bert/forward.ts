// `medgen forward --arch bert|distilbert`: input_ids, attention_mask, token_type_ids (I64 or I32)
// -> last_hidden_state, pooler_output (BERT with a pooler), mean_pooled; names as in
// test/fixtures/golden/bert-tiny/io.safetensors. --weights is a HF folder or a weights file beside
// its config.json; `--option config=<file>` points at another config.
import {statSync} from 'node:fs'
import {dirname} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {toFloat32, type HostTensor, type TensorMap} from '../../io/tensor-map.js'
import type {ForwardArch} from '../registry.js'
import type {TextArch} from './config.js'
import {disposeWeights, loadEncoderWeights} from './load.js'
import {meanPool} from './layers.js'
import {runEncoder} from './run.js'

function intInput(inputs: TensorMap, name: string, required: boolean): tf.Tensor2D | undefined {
  const t = inputs.get(name)
  if (!t) {
    if (required) throw new UserError(`inputs: tensor ${name} is missing`)
    return undefined
  }
  if (t.shape.length !== 2) throw new UserError(`inputs: ${name} must be [batch, seq], got [${t.shape}]`)
  return tf.tensor2d(Int32Array.from(toFloat32(t)), t.shape as [number, number], 'int32')
}

async function host(t: tf.Tensor): Promise<HostTensor> {
  return {dtype: 'F32', shape: t.shape.slice(), data: new Float32Array((await t.data()) as Float32Array)}
}

export function textForward(arch: TextArch): ForwardArch {
  return {
    description: arch === 'bert' ? 'BertModel (Bio_ClinicalBERT)' : 'DistilBertModel (medicalai/ClinicalBERT)',
    async run(weights, inputs, options) {
      const isFile = statSync(weights, {throwIfNoEntry: false})?.isFile() ?? false
      const dir = isFile ? dirname(weights) : weights
      const loaded = await loadEncoderWeights(dir, {
        expectArch: arch,
        configFile: options.config,
        weightsFile: isFile ? weights : undefined
      })
      const inputIds = intInput(inputs, 'input_ids', true)!
      const attentionMask = intInput(inputs, 'attention_mask', false) ?? tf.onesLike(inputIds)
      const tokenTypeIds = intInput(inputs, 'token_type_ids', false)
      const out = runEncoder(loaded.config, loaded.weights, {inputIds, attentionMask, tokenTypeIds})
      const result: TensorMap = new Map()
      result.set('last_hidden_state', await host(out.lastHiddenState))
      if (out.poolerOutput) result.set('pooler_output', await host(out.poolerOutput))
      const pooled = meanPool(out.lastHiddenState, attentionMask)
      result.set('mean_pooled', await host(pooled))
      tf.dispose(
        [inputIds, attentionMask, tokenTypeIds, out.lastHiddenState, out.poolerOutput, pooled].filter(
          Boolean
        ) as tf.Tensor[]
      )
      disposeWeights(loaded.weights)
      return result
    }
  }
}

export const bertArch = textForward('bert')
export const distilbertArch = textForward('distilbert')
