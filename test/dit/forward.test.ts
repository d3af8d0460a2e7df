// `medgen forward --arch pixart|vae` registry entries on the golden fixtures (the same code the
// CLI runs): PyTorch-layout inputs in, PyTorch-layout outputs out.
import {expect} from 'chai'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {goldenDir, compareArrays} from '../helpers/tmp.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import {toFloat32} from '../../src/io/tensor-map.js'
import {architectures} from '../../src/models/registry.js'

describe('dit: medgen forward --arch pixart / vae', function () {
  before(async () => {
    await useTestBackend()
  })

  it('pixart with lora=... scale=0.5 reproduces sample_lora_weight_0.5; without it, sample_base', async () => {
    const dir = join(goldenDir, 'pixart-lora')
    const arch = await architectures.pixart()
    const inputs = await readSafetensors(join(dir, 'inputs.safetensors'))
    const ref = await readSafetensors(join(dir, 'outputs.safetensors'))
    const half = await arch.run(dir, inputs, {lora: join(dir, 'lora.safetensors'), scale: '0.5'})
    expect(
      compareArrays(toFloat32(half.get('sample')!), toFloat32(ref.get('sample_lora_weight_0.5')!), 1e-4, 1e-4).ok
    ).to.equal(true)
    const merged = await arch.run(dir, inputs, {lora: join(dir, 'lora.safetensors'), merge: '1'})
    expect(
      compareArrays(toFloat32(merged.get('sample')!), toFloat32(ref.get('sample_merged')!), 1e-4, 1e-4).ok
    ).to.equal(true)
    const base = await arch.run(dir, inputs, {})
    expect(base.get('sample')!.shape).to.deep.equal([2, 8, 8, 8])
    expect(compareArrays(toFloat32(base.get('sample')!), toFloat32(ref.get('sample_base')!), 1e-4, 1e-4).ok).to.equal(
      true
    )
  })

  it('vae encodes sample -> mean/logvar and decodes latents -> sample', async () => {
    const dir = join(goldenDir, 'vae-tiny')
    const arch = await architectures.vae()
    const inputs = await readSafetensors(join(dir, 'inputs.safetensors'))
    const ref = await readSafetensors(join(dir, 'outputs.safetensors'))
    const enc = await arch.run(dir, new Map([['sample', inputs.get('image')!]]), {})
    for (const k of ['mean', 'logvar', 'moments', 'encoder_out', 'std']) {
      expect(compareArrays(toFloat32(enc.get(k)!), toFloat32(ref.get(k)!), 1e-4, 1e-4).ok, k).to.equal(true)
    }
    const dec = await arch.run(dir, new Map([['latents', ref.get('mean')!]]), {})
    expect(compareArrays(toFloat32(dec.get('sample')!), toFloat32(ref.get('decoded')!), 1e-4, 1e-4).ok).to.equal(true)
  })
})
