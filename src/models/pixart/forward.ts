// `medgen forward --arch pixart`: diffusers-named inputs (NCHW, as PyTorch) -> `sample` (NCHW).
// Options: lora=PATH (peft/kohya file), scale=W (adapter weight, default 1), merge=1 (merge the
// LoRA into the weights first), intermediates=1 (also write the golden-fixture intermediates).
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {toFloat32, type HostTensor, type TensorMap} from '../../io/tensor-map.js'
import type {ForwardArch} from '../registry.js'
import {loadLora, mergeLora} from '../lora.js'
import {loadPixArt} from './load.js'
import {pixartForward} from './transformer.js'

function need(inputs: TensorMap, name: string): HostTensor {
  const t = inputs.get(name)
  if (!t) throw new UserError(`--inputs: tensor ${name} is missing (have ${[...inputs.keys()].join(', ')})`)
  return t
}

async function toHost(t: tf.Tensor): Promise<HostTensor> {
  return {dtype: 'F32', shape: t.shape.slice(), data: new Float32Array((await t.data()) as Float32Array)}
}

export const pixartForwardArch: ForwardArch = {
  description:
    'PixArt-alpha transformer: hidden_states, encoder_hidden_states, encoder_attention_mask?, timestep -> sample',
  async run(weights, inputs, options) {
    const {config, params} = await loadPixArt(weights)
    const lora = options.lora
      ? await loadLora(options.lora, options.scale !== undefined ? Number(options.scale) : 1)
      : null
    const merged = lora && options.merge === '1' ? mergeLora(params, lora) : params
    const hs = need(inputs, 'hidden_states')
    const ehs = need(inputs, 'encoder_hidden_states')
    const mask = inputs.get('encoder_attention_mask')
    const out: TensorMap = new Map()
    const result = tf.tidy(() => {
      const x = tf
        .tensor4d(toFloat32(hs), hs.shape as [number, number, number, number])
        .transpose([0, 2, 3, 1]) as tf.Tensor4D
      const r = pixartForward(
        {params: merged, lora: options.merge === '1' ? null : lora},
        config,
        {
          x,
          timesteps: toFloat32(need(inputs, 'timestep')),
          context: tf.tensor3d(toFloat32(ehs), ehs.shape as [number, number, number]),
          mask: mask ? tf.tensor2d(toFloat32(mask), mask.shape as [number, number]) : null
        },
        options.intermediates === '1'
      )
      return {sample: r.sample.transpose([0, 3, 1, 2]), ...Object.fromEntries(r.intermediates)}
    })
    for (const [k, t] of Object.entries(result)) out.set(k, await toHost(t))
    tf.dispose([...Object.values(result), ...merged.values(), ...params.values()])
    return out
  }
}
