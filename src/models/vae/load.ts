// Loading an AutoencoderKL from a diffusers `vae/` folder. Old checkpoints (diffusers < 0.14,
// some sd-vae-ft-ema copies) name the mid-block attention query/key/value/proj_attn and may
// store them as 1x1 convs; both are mapped to to_q/to_k/to_v/to_out.0 Linear weights here.
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {UserError} from '../../errors.js'
import type {HostTensor} from '../../io/tensor-map.js'
import {kindOf, torchToTf} from '../params.js'
import {readDiffusersStateDict, readJsonFile} from '../pixart/load.js'
import {parseVaeConfig, type VaeConfig} from './autoencoder.js'

const LEGACY: Record<string, string> = {query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0'}

function modernName(name: string): string {
  return name.replace(/(\.attentions\.\d+\.)(query|key|value|proj_attn)\./, (_, pre, old) => `${pre}${LEGACY[old]}.`)
}

export async function loadVae(folder: string): Promise<{config: VaeConfig, params: Map<string, tf.Tensor>}> {
  const config = parseVaeConfig(await readJsonFile(join(folder, 'config.json')), join(folder, 'config.json'))
  const host = await readDiffusersStateDict(folder)
  const params = new Map<string, tf.Tensor>()
  for (const [raw, t0] of host) {
    const name = modernName(raw)
    let t: HostTensor = t0
    if (/\.attentions\.\d+\.to_(q|k|v|out\.0)\.weight$/.test(name) && t.shape.length === 4) t = {...t, shape: t.shape.slice(0, 2)}
    params.set(name, torchToTf(t, kindOf(t.shape, name)))
  }
  for (const needed of ['encoder.conv_in.weight', 'quant_conv.weight', 'post_quant_conv.weight', 'decoder.conv_out.weight']) {
    if (!params.has(needed)) throw new UserError(`${folder}: missing tensor ${needed} (not an AutoencoderKL checkpoint?)`)
  }
  const convIn = params.get('encoder.conv_in.weight')!
  if (convIn.shape[3] !== config.block_out_channels[0]) {
    throw new UserError(`${folder}: encoder.conv_in has ${convIn.shape[3]} outputs, config block_out_channels[0] is ${config.block_out_channels[0]}`)
  }
  return {config, params}
}
