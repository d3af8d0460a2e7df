// The LoRA as peft loads it (issue 21 "Results in the Python ecosystem"): beside the
// diffusers-named dit/lora.safetensors, dit/adapter_model.safetensors holds the same tensors under
// peft's `base_model.model.<module>.lora_A.weight` names (peft docs, "PEFT checkpoint format"),
// with adapter_config.json in the same folder; lora_alpha follows the rank unless set.
import {expect} from 'chai'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import {createLora, loadLora, saveLora} from '../../src/models/lora.js'
import {loadConfig} from '../../src/config/load.js'
import {Rng} from '../../src/util/rng.js'
import {loraDescription} from '../../src/stages/finetune-dit.js'

describe('dit: the LoRA folder loads with PeftModel.from_pretrained', () => {
  before(async () => {
    await useTestBackend()
  })

  it('writes adapter_model.safetensors with base_model.model. names and the same tensors as lora.safetensors', async () => {
    const dir = join(tmpDir(), 'dit')
    const modules = [
      {path: 'transformer_blocks.0.attn1.to_q', inFeatures: 6, outFeatures: 6},
      {path: 'transformer_blocks.0.ff.net.2', inFeatures: 12, outFeatures: 6}
    ]
    const set = createLora(modules, ['to_q', 'ff.net.2'], 4, 4, new Rng(3))
    await saveLora(join(dir, 'lora.safetensors'), set, '')
    const diffusers = await readSafetensors(join(dir, 'lora.safetensors'))
    const peft = await readSafetensors(join(dir, 'adapter_model.safetensors'))
    expect([...peft.keys()].sort()).to.deep.equal([
      'base_model.model.transformer_blocks.0.attn1.to_q.lora_A.weight',
      'base_model.model.transformer_blocks.0.attn1.to_q.lora_B.weight',
      'base_model.model.transformer_blocks.0.ff.net.2.lora_A.weight',
      'base_model.model.transformer_blocks.0.ff.net.2.lora_B.weight'
    ])
    for (const [name, t] of peft) {
      const twin = diffusers.get(name.replace('base_model.model.', 'transformer.'))!
      expect(t.shape).to.deep.equal(twin.shape)
      expect(Array.from(t.data as Float32Array)).to.deep.equal(Array.from(twin.data as Float32Array))
    }
    expect(peft.get('base_model.model.transformer_blocks.0.attn1.to_q.lora_A.weight')!.shape).to.deep.equal([4, 6]) // [r, in], torch layout
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'))
    expect(config).to.include({peft_type: 'LORA', r: 4, lora_alpha: 4})
    expect(existsSync(join(dir, 'adapter_config.json'))).to.equal(true)
    const back = await loadLora(join(dir, 'adapter_model.safetensors'))
    expect([back.rank, back.scale, [...back.adapters.keys()].sort()]).to.deep.equal([
      4,
      1,
      [...set.adapters.keys()].sort()
    ])
  })

  it('dit.lora.alpha is null by default (= the rank, scale 1) and can be set; the log says the scale', () => {
    expect(loadConfig({sets: ['dit.lora.rank=4']}).dit.lora.alpha).to.equal(null)
    expect(loadConfig({sets: ['dit.lora.rank=4', 'dit.lora.alpha=8']}).dit.lora.alpha).to.equal(8)
    expect(loraDescription(4, 4, 'attention')).to.equal('LoRA r=4 alpha=4 scale 1.00 (attention)')
    expect(loraDescription(4, 8, 'attention')).to.equal('LoRA r=4 alpha=8 scale 2.00 (attention)')
  })
})
