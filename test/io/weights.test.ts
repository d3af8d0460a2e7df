// loadStateDict / readJsonConfig (issue 2, item 7; docs/DESIGN.md "Weights"): folder resolution,
// prefix stripping, filters, legacy LayerNorm names, shards, and errors naming what was expected.
import {expect} from 'chai'
import {copyFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {loadStateDict, readJsonConfig, resolveWeightsFile} from '../../src/io/weights.js'
import {readSafetensors, writeSafetensors} from '../../src/io/safetensors.js'
import type {HostTensor, TensorMap} from '../../src/io/tensor-map.js'
import {goldenDir, tmpDir} from '../helpers/tmp.js'
import {expectUserError} from '../helpers/user-error.js'

const bert = join(goldenDir, 'bert-tiny')
const bytesOf = (t: HostTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)

function expectSame(got: TensorMap, expected: TensorMap): void {
  expect([...got.keys()].sort()).to.deep.equal([...expected.keys()].sort())
  for (const [name, t] of expected) expect(bytesOf(got.get(name)!).equals(bytesOf(t)), name).to.equal(true)
}

const f32 = (...v: number[]): HostTensor => ({dtype: 'F32', shape: [v.length], data: new Float32Array(v)})

describe('loadStateDict', () => {
  it('a Hugging Face folder resolves to model.safetensors', async () => {
    expect(await resolveWeightsFile(bert)).to.equal(join(bert, 'model.safetensors'))
    expectSame(await loadStateDict(bert), await readSafetensors(join(bert, 'model.safetensors')))
  })

  it('a BertForPreTraining pytorch_model.bin (zip and legacy) loads as the BertModel weights', async () => {
    const expected = await readSafetensors(join(bert, 'model.safetensors'))
    for (const file of ['pytorch_model.bin', 'pytorch_model_legacy.bin']) {
      const got = await loadStateDict(join(bert, file), {
        stripPrefixes: ['bert.', 'distilbert.'],
        exclude: [/^cls\./, /position_ids$/]
      })
      expectSame(got, expected)
    }
  })

  it('include keeps only the names asked for (after renaming)', async () => {
    const got = await loadStateDict(join(bert, 'pytorch_model.bin'), {
      stripPrefixes: ['bert.'],
      include: n => n.startsWith('pooler.')
    })
    expect([...got.keys()].sort()).to.deep.equal(['pooler.dense.bias', 'pooler.dense.weight'])
  })

  it('renames legacy LayerNorm.gamma/beta and finds diffusers and single-file folders', async () => {
    const dir = tmpDir()
    mkdirSync(join(dir, 'vae'))
    await writeSafetensors(join(dir, 'vae', 'diffusion_pytorch_model.safetensors'), {
      'bert.encoder.layer.0.output.LayerNorm.gamma': f32(1, 2),
      'bert.encoder.layer.0.output.LayerNorm.beta': f32(3, 4),
      'gamma_other': f32(5)
    })
    const got = await loadStateDict(join(dir, 'vae'), {stripPrefixes: ['bert.']})
    expect([...got.keys()].sort()).to.deep.equal([
      'encoder.layer.0.output.LayerNorm.bias',
      'encoder.layer.0.output.LayerNorm.weight',
      'gamma_other'
    ])
    expect(Array.from(got.get('encoder.layer.0.output.LayerNorm.weight')!.data as Float32Array)).to.deep.equal([1, 2])
    mkdirSync(join(dir, 'inception'))
    copyFileSync(join(bert, 'pytorch_model.bin'), join(dir, 'inception', 'pt_inception.pth'))
    expect(await resolveWeightsFile(join(dir, 'inception'))).to.equal(join(dir, 'inception', 'pt_inception.pth'))
    expect((await loadStateDict(join(dir, 'inception'))).size).to.equal(49)
  })

  it('reads sharded safetensors through the index', async () => {
    const dir = tmpDir()
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), {a: f32(1), b: f32(2, 3)})
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), {c: f32(4)})
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({
        metadata: {},
        weight_map: {
          a: 'model-00001-of-00002.safetensors',
          b: 'model-00001-of-00002.safetensors',
          c: 'model-00002-of-00002.safetensors'
        }
      })
    )
    const got = await loadStateDict(dir)
    expect([...got.keys()].sort()).to.deep.equal(['a', 'b', 'c'])
    expect(Array.from(got.get('c')!.data as Float32Array)).to.deep.equal([4])
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({weight_map: {d: 'model-00002-of-00002.safetensors'}})
    )
    await expectUserError(loadStateDict(dir), 'model-00002-of-00002.safetensors', 'tensor d')
  })

  it('errors name the folder or file and what was expected', async () => {
    const dir = tmpDir()
    const empty = join(dir, 'empty')
    mkdirSync(empty)
    await expectUserError(
      loadStateDict(empty, {expected: 'the PixArt transformer'}),
      empty,
      'the PixArt transformer',
      'model.safetensors'
    )
    const two = join(dir, 'two')
    mkdirSync(two)
    writeFileSync(join(two, 'a.pth'), '')
    writeFileSync(join(two, 'b.pt'), '')
    await expectUserError(loadStateDict(two), two, 'a.pth, b.pt')
    await expectUserError(loadStateDict(join(dir, 'absent')), 'absent', 'no such file')
    await expectUserError(
      loadStateDict(join(bert, 'pytorch_model.bin'), {include: () => false, expected: 'BERT'}),
      'pytorch_model.bin',
      'no tensors left for BERT'
    )
    const clash = join(dir, 'clash.safetensors')
    await writeSafetensors(clash, {'bert.x': f32(1), x: f32(2)})
    await expectUserError(loadStateDict(clash, {stripPrefixes: ['bert.']}), clash, 'both become x')
    const txt = join(dir, 'weights.txt')
    writeFileSync(txt, 'x')
    await expectUserError(loadStateDict(txt), txt, 'unknown weights format')
  })
})

describe('readJsonConfig', () => {
  it('reads config.json of a folder or a named JSON file', async () => {
    expect((await readJsonConfig(bert)).fixture).to.equal('bert-tiny')
    const hf = await readJsonConfig(bert, 'hf_config.json')
    expect(hf.hidden_size).to.equal(32)
    expect((await readJsonConfig(join(bert, 'hf_config.json'))).num_hidden_layers).to.equal(2)
  })
  it('missing or invalid config gives a one-line error naming it', async () => {
    const dir = tmpDir()
    await expectUserError(readJsonConfig(dir), dir, 'no config.json')
    writeFileSync(join(dir, 'config.json'), '{"hidden_size": 32,')
    await expectUserError(readJsonConfig(dir), join(dir, 'config.json'), 'invalid JSON')
    writeFileSync(join(dir, 'config.json'), '[1, 2]')
    await expectUserError(readJsonConfig(dir), 'expected a JSON object')
  })
})
