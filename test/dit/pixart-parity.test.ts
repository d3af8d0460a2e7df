// PixArt-alpha transformer and LoRA against diffusers v0.27.2 (test/fixtures/golden pixart-tiny,
// pixart-lora), loaded through medgen's own loaders; atol 1e-4 / rtol 1e-4.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {goldenDir} from '../helpers/tmp.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import {toFloat32} from '../../src/io/tensor-map.js'
import {loadPixArt} from '../../src/models/pixart/load.js'
import {
  pixartForward,
  countPixArtParams,
  pixartParamShapes,
  positionTable
} from '../../src/models/pixart/transformer.js'
import {pixartPreset, innerDim} from '../../src/models/pixart/config.js'
import {
  loadLora,
  mergeLora,
  disposeLora,
  adaptableModules,
  matchesTarget,
  loraTargetList
} from '../../src/models/lora.js'
import {nchwToNhwc, expectClose} from './golden.js'

async function fixture(name: string) {
  const dir = join(goldenDir, name)
  const model = await loadPixArt(dir)
  const inputs = await readSafetensors(join(dir, 'inputs.safetensors'))
  const outputs = await readSafetensors(join(dir, 'outputs.safetensors'))
  const x = nchwToNhwc(inputs.get('hidden_states')!)
  const ctx = tf.tensor3d(
    toFloat32(inputs.get('encoder_hidden_states')!),
    inputs.get('encoder_hidden_states')!.shape as [number, number, number]
  )
  const mask = tf.tensor2d(
    toFloat32(inputs.get('encoder_attention_mask')!),
    inputs.get('encoder_attention_mask')!.shape as [number, number]
  )
  const timesteps = toFloat32(inputs.get('timestep')!)
  return {dir, model, outputs, x, ctx, mask, timesteps}
}

describe('dit: PixArt transformer parity (golden pixart-tiny, pixart-lora)', function () {
  before(async () => {
    await useTestBackend()
  })

  it('pixart-tiny: sample, position table and every intermediate match diffusers', async () => {
    const f = await fixture('pixart-tiny')
    const gh = f.x.shape[1] / f.model.config.patch_size
    const table = positionTable(f.model.config, gh, f.x.shape[2] / f.model.config.patch_size)
    expectClose(
      tf.tensor3d(table, [1, table.length / innerDim(f.model.config), innerDim(f.model.config)]),
      f.outputs.get('pos_embed_table')!,
      'pos_embed_table'
    )
    const res = pixartForward(
      {params: f.model.params},
      f.model.config,
      {x: f.x, timesteps: f.timesteps, context: f.ctx, mask: f.mask},
      true
    )
    const worst: Record<string, number> = {}
    for (const [name, t] of res.intermediates) {
      expect(f.outputs.has(name), `golden has ${name}`).to.equal(true)
      worst[name] = expectClose(t, f.outputs.get(name)!, name)
    }
    expect(res.intermediates.size).to.equal([...f.outputs.keys()].filter(k => k.startsWith('inter.')).length)
    worst.sample = expectClose(res.sample, f.outputs.get('sample')!, 'sample', {nchw: true})
    console.log('      pixart-tiny max abs diff:', JSON.stringify(worst))
  })

  it('pixart-lora: unmerged at weight 1 and 0.5, base, and merged match', async () => {
    const f = await fixture('pixart-lora')
    const file = join(f.dir, 'lora.safetensors')
    const lora = await loadLora(file)
    const half = await loadLora(file, 0.5)
    const run = (w: Parameters<typeof pixartForward>[0]) =>
      pixartForward(w, f.model.config, {x: f.x, timesteps: f.timesteps, context: f.ctx, mask: f.mask}, true)
    const d: Record<string, number> = {}
    const full = run({params: f.model.params, lora})
    d.sample_lora = expectClose(full.sample, f.outputs.get('sample_lora')!, 'sample_lora', {nchw: true})
    d.block_0 = expectClose(full.intermediates.get('inter.block_0')!, f.outputs.get('inter.block_0')!, 'inter.block_0')
    d.sample_lora_weight_05 = expectClose(
      run({params: f.model.params, lora: half}).sample,
      f.outputs.get('sample_lora_weight_0.5')!,
      'sample_lora_weight_0.5',
      {nchw: true}
    )
    d.sample_base = expectClose(run({params: f.model.params}).sample, f.outputs.get('sample_base')!, 'sample_base', {
      nchw: true
    })
    const merged = mergeLora(f.model.params, lora)
    d.sample_merged = expectClose(run({params: merged}).sample, f.outputs.get('sample_merged')!, 'sample_merged', {
      nchw: true
    })
    console.log('      pixart-lora max abs diff:', JSON.stringify(d))
    disposeLora(lora)
    disposeLora(half)
  })

  it('pixart-xl-512 preset counts 610,856,096 parameters (from shapes, nothing allocated)', () => {
    expect(countPixArtParams(pixartPreset('pixart-xl-512'))).to.equal(610_856_096)
    expect(countPixArtParams(pixartPreset('pixart-small'))).to.equal(29_798_816) // bench/result-small.json
    expect(countPixArtParams(pixartPreset('pixart-tiny'))).to.equal(1_246_368) // bench/result-tiny.json
  })

  it("broad LoRA targets on pixart-xl-512 at rank 8 give the authors' 6,882,688 adapter parameters (docs/REFERENCE.md §5.3)", () => {
    const modules = adaptableModules(pixartParamShapes(pixartPreset('pixart-xl-512')))
    const count = (targets: string[]) =>
      modules
        .filter(m => matchesTarget(m.path, targets))
        .reduce((n, m) => n + 8 * m.inFeatures * (m.kernel ?? 1) ** 2 + m.outFeatures * 8, 0)
    expect(count(loraTargetList('broad'))).to.equal(6_882_688)
    // attention-only: q, k, v, out of both attentions in 28 blocks
    expect(modules.filter(m => matchesTarget(m.path, loraTargetList('attention-only'))).length).to.equal(28 * 8)
  })
})
