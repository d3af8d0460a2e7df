// `medgen forward --arch vae`: `sample` (or `image`) [B,3,H,W] in [-1,1] -> encoder_out, moments,
// mean, logvar (clamped), std; `latents` [B,C,h,w] (unscaled, as vae.decode takes) -> `sample`.
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {toFloat32, type HostTensor, type TensorMap} from '../../io/tensor-map.js'
import type {ForwardArch} from '../registry.js'
import {loadVae} from './load.js'
import {vaeDecode, vaeEncode} from './autoencoder.js'

const nhwc = (h: HostTensor): tf.Tensor4D =>
  tf.tensor4d(toFloat32(h), h.shape as [number, number, number, number]).transpose([0, 2, 3, 1]) as tf.Tensor4D

export const vaeForwardArch: ForwardArch = {
  description: 'AutoencoderKL: sample|image -> encoder_out, moments, mean, logvar, std; latents -> sample',
  async run(weights, inputs) {
    const {config, params} = await loadVae(weights)
    const w = {params}
    const image = inputs.get('sample') ?? inputs.get('image')
    const latents = inputs.get('latents')
    if (!image && !latents)
      throw new UserError(
        `--inputs: expected sample (or image) to encode and/or latents to decode; have ${[...inputs.keys()].join(', ')}`
      )
    const result = tf.tidy(() => {
      const out: Record<string, tf.Tensor> = {}
      if (image) {
        const p = vaeEncode(w, config, nhwc(image))
        Object.assign(out, {
          encoder_out: p.encoderOut,
          moments: p.moments,
          mean: p.mean,
          logvar: p.logvar,
          std: p.logvar.mul(0.5).exp()
        })
      }
      if (latents) out[image ? 'decoded' : 'sample'] = vaeDecode(w, config, nhwc(latents))
      for (const k of Object.keys(out)) out[k] = out[k].transpose([0, 3, 1, 2])
      return out
    })
    const host: TensorMap = new Map()
    for (const [k, t] of Object.entries(result))
      host.set(k, {dtype: 'F32', shape: t.shape.slice(), data: new Float32Array((await t.data()) as Float32Array)})
    tf.dispose([...Object.values(result), ...params.values()])
    return host
  }
}
