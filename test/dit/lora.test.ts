// LoRA file formats: peft `transformer.` and `base_model.model.` prefixes and kohya
// lora_down/lora_up load to the same adapters; alpha comes from adapter_config.json; a half
// adapter or a non-LoRA tensor is a one-line error naming the tensor.
import {expect} from 'chai'
import {join} from 'node:path'
import {promises as fs} from 'node:fs'
import {useTestBackend} from '../helpers/backend.js'
import {goldenDir, tmpDir} from '../helpers/tmp.js'
import {readSafetensors, writeSafetensors} from '../../src/io/safetensors.js'
import {loadLora, matchesTarget, BROAD_TARGETS} from '../../src/models/lora.js'
import {UserError} from '../../src/errors.js'

describe('dit: LoRA files', function () {
  before(async () => {
    await useTestBackend()
  })

  it('accepts transformer., base_model.model. and kohya names alike; alpha from adapter_config.json', async () => {
    const golden = await readSafetensors(join(goldenDir, 'pixart-lora', 'lora.safetensors'))
    const ref = await loadLora(join(goldenDir, 'pixart-lora', 'lora.safetensors'))
    expect(ref.rank).to.equal(4)
    expect(ref.scale).to.equal(1)
    const dir = tmpDir()
    const peft = new Map([...golden].map(([k, v]) => [k.replace(/^transformer\./, 'base_model.model.'), v]))
    await writeSafetensors(join(dir, 'lora.safetensors'), peft)
    await fs.writeFile(
      join(dir, 'adapter_config.json'),
      JSON.stringify({r: 4, lora_alpha: 8, target_modules: ['to_q']})
    )
    const viaPeft = await loadLora(join(dir, 'lora.safetensors'), 0.5)
    expect(viaPeft.scale).to.equal(1) // 8/4 * 0.5
    const kohyaDir = tmpDir()
    const kohya = new Map(
      [...golden].map(([k, v]) => [k.replace('lora_A', 'lora_down').replace('lora_B', 'lora_up'), v])
    )
    await writeSafetensors(join(kohyaDir, 'lora.safetensors'), kohya)
    const viaKohya = await loadLora(join(kohyaDir, 'lora.safetensors'))
    for (const set of [viaPeft, viaKohya]) {
      expect([...set.adapters.keys()].sort()).to.deep.equal([...ref.adapters.keys()].sort())
      for (const [path, a] of ref.adapters) {
        expect(Array.from(set.adapters.get(path)!.A.dataSync())).to.deep.equal(Array.from(a.A.dataSync()))
        expect(Array.from(set.adapters.get(path)!.B.dataSync())).to.deep.equal(Array.from(a.B.dataSync()))
      }
    }
  })

  it('rejects a file with half an adapter, naming the module', async () => {
    const golden = await readSafetensors(join(goldenDir, 'pixart-lora', 'lora.safetensors'))
    const dir = tmpDir()
    const half = new Map(
      [...golden].filter(([k]) => !k.endsWith('attn1.to_q.lora_B.weight') || !k.includes('blocks.0.'))
    )
    await writeSafetensors(join(dir, 'lora.safetensors'), half)
    let err: unknown
    try {
      await loadLora(join(dir, 'lora.safetensors'))
    } catch (e) {
      err = e
    }
    expect(err).to.be.instanceOf(UserError)
    expect((err as Error).message).to.match(/transformer_blocks\.0\.attn1\.to_q has lora_A but not the other half/)
  })

  it('matches targets as dotted-path suffixes (peft)', () => {
    expect(matchesTarget('transformer_blocks.3.attn2.to_out.0', BROAD_TARGETS)).to.equal(true)
    expect(matchesTarget('pos_embed.proj', BROAD_TARGETS)).to.equal(true)
    expect(matchesTarget('adaln_single.linear', BROAD_TARGETS)).to.equal(true)
    expect(matchesTarget('transformer_blocks.0.ff.net.0.proj', ['to_q'])).to.equal(false)
    expect(matchesTarget('my_to_q', ['to_q'])).to.equal(false)
  })
})
