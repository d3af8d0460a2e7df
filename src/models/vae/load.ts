// Loading an AutoencoderKL from a diffusers `vae/` folder. Old checkpoints (diffusers < 0.14,
// some sd-vae-ft-ema copies) name the mid-block attention query/key/value/proj_attn and may
// store them as 1x1 convs; both are mapped to to_q/to_k/to_v/to_out.0 Linear weights here.
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {UserError} from '../../errors.js'
import type {HostTensor} from '../../io/tensor-map.js'
import {disposeParams, kindOf, torchToTf} from '../params.js'
import {forEachDiffusersTensor, readJsonFile} from '../pixart/load.js'
import {parseVaeConfig, type VaeConfig} from './autoencoder.js'

const LEGACY: Record<string, string> = {query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0'}

function modernName(name: string): string {
  return name.replace(/(\.attentions\.\d+\.)(query|key|value|proj_attn)\./, (_, pre, old) => `${pre}${LEGACY[old]}.`)
}

export async function loadVae(folder: string): Promise<{config: VaeConfig; params: Map<string, tf.Tensor>}> {
  const config = parseVaeConfig(await readJsonFile(join(folder, 'config.json')), join(folder, 'config.json'))
  // each tensor goes to the backend as it is read: the host never holds the whole state_dict
  const params = new Map<string, tf.Tensor>()
  try {
    await forEachDiffusersTensor(folder, (raw, t0) => {
      const name = modernName(raw)
      let t: HostTensor = t0
      if (/\.attentions\.\d+\.to_(q|k|v|out\.0)\.weight$/.test(name) && t.shape.length === 4)
        t = {...t, shape: t.shape.slice(0, 2)}
      params.get(name)?.dispose()
      params.set(name, torchToTf(t, kindOf(t.shape, name)))
    })
  } catch (err) {
    disposeParams(params)
    throw err
  }
  const problem = [
    'encoder.conv_in.weight',
    'quant_conv.weight',
    'post_quant_conv.weight',
    'decoder.conv_out.weight'
  ].find(n => !params.has(n))
  const convOut = params.get('encoder.conv_in.weight')?.shape[3]
  if (problem || convOut !== config.block_out_channels[0]) {
    disposeParams(params)
    throw new UserError(
      problem
        ? `${folder}: missing tensor ${problem} (not an AutoencoderKL checkpoint?)`
        : `${folder}: encoder.conv_in has ${convOut} outputs, config block_out_channels[0] is ${config.block_out_channels[0]}`
    )
  }
  return {config, params}
}
