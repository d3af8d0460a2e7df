// AutoencoderKL against diffusers v0.27.2 (test/fixtures/golden vae-tiny), loaded through medgen's
// own loader: encoder output, moments, mean, clamped logvar and decode(mean); atol/rtol 1e-4.
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {goldenDir} from '../helpers/tmp.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import {loadVae} from '../../src/models/vae/load.js'
import {vaeDecode, vaeEncode} from '../../src/models/vae/autoencoder.js'
import {nchwToNhwc, expectClose} from './golden.js'

describe('dit: AutoencoderKL parity (golden vae-tiny)', function () {
  before(async () => {
    await useTestBackend()
  })

  it('encoder_out, moments, mean, logvar and decoded match diffusers', async () => {
    const dir = join(goldenDir, 'vae-tiny')
    const {config, params} = await loadVae(dir)
    const inputs = await readSafetensors(join(dir, 'inputs.safetensors'))
    const ref = await readSafetensors(join(dir, 'outputs.safetensors'))
    const image = nchwToNhwc(inputs.get('image')!)
    const w = {params}
    const post = vaeEncode(w, config, image)
    const d: Record<string, number> = {}
    d.encoder_out = expectClose(post.encoderOut, ref.get('encoder_out')!, 'encoder_out', {nchw: true})
    d.moments = expectClose(post.moments, ref.get('moments')!, 'moments', {nchw: true})
    d.mean = expectClose(post.mean, ref.get('mean')!, 'mean', {nchw: true})
    d.logvar = expectClose(post.logvar, ref.get('logvar')!, 'logvar', {nchw: true})
    const decoded = vaeDecode(w, config, post.mean)
    d.decoded = expectClose(decoded, ref.get('decoded')!, 'decoded', {nchw: true})
    console.log('      vae-tiny max abs diff:', JSON.stringify(d))
    tf.dispose([image, decoded, post.encoderOut, post.moments, post.mean, post.logvar, ...params.values()])
  })
})
