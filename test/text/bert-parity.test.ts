// BERT parity with transformers 4.57 BertModel on test/fixtures/golden/bert-tiny (atol 1e-4, rtol 1e-4),
// from every weight layout the fixture ships, plus the loader's error messages.
import {expect} from 'chai'
import {readFileSync, writeFileSync, copyFileSync} from 'node:fs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {compareArrays, goldenDir, tmpDir} from '../helpers/tmp.js'
import {readSafetensors, writeSafetensors} from '../../src/io/safetensors.js'
import {toFloat32, type TensorMap} from '../../src/io/tensor-map.js'
import {bertArch, distilbertArch} from '../../src/models/bert/forward.js'
import {WordPieceTokenizer} from '../../src/text/wordpiece.js'

const dir = join(goldenDir, 'bert-tiny')
const hfConfig = join(dir, 'hf_config.json')

describe('BERT parity (golden bert-tiny)', () => {
  let io: TensorMap
  before(async () => {
    await useTestBackend()
    io = await readSafetensors(join(dir, 'io.safetensors'))
  })

  const inputsOf = () => new Map(['input_ids', 'attention_mask', 'token_type_ids'].map(k => [k, io.get(k)!]))

  for (const file of [
    'model.safetensors',
    'pretraining_state_dict.safetensors',
    'pytorch_model.bin',
    'pytorch_model_legacy.bin'
  ]) {
    it(`${file}: last_hidden_state, pooler_output, mean_pooled within 1e-4`, async () => {
      const out = await bertArch.run(join(dir, file), inputsOf(), {config: hfConfig})
      for (const name of ['last_hidden_state', 'pooler_output', 'mean_pooled']) {
        const got = out.get(name)!
        const ref = io.get(name)!
        expect(got.shape, name).to.deep.equal(ref.shape)
        const cmp = compareArrays(got.data as Float32Array, toFloat32(ref), 1e-4, 1e-4)
        expect(cmp.ok, `${file} ${name} max abs diff ${cmp.maxAbs}`).to.equal(true)
        console.log(`      ${file} ${name}: max |diff| ${cmp.maxAbs.toExponential(2)}`)
      }
    })
  }

  it('is registered for `medgen forward --arch bert|distilbert`', async () => {
    const {architectures} = await import('../../src/models/registry.js')
    expect((await architectures.bert()).description).to.equal(bertArch.description)
    expect((await architectures.distilbert()).description).to.equal(distilbertArch.description)
  })

  it('the tokenizer rebuilds the fixture input_ids from its texts (cased, max_length 16)', () => {
    const meta = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
    const tok = WordPieceTokenizer.fromFolder(dir, {doLowerCase: false})
    const ids = Array.from(io.get('input_ids')!.data as BigInt64Array, Number)
    const types = Array.from(io.get('token_type_ids')!.data as BigInt64Array, Number)
    const seq = meta.inputs.seq_len as number
    meta.inputs.texts.forEach(([a, b]: [string, string | null], row: number) => {
      const enc = tok.encode(a, b, {maxLength: seq, truncation: true, padding: 'max_length'})
      expect(enc.inputIds, `row ${row}`).to.deep.equal(ids.slice(row * seq, (row + 1) * seq))
      expect(enc.tokenTypeIds, `row ${row}`).to.deep.equal(types.slice(row * seq, (row + 1) * seq))
    })
  })

  it('a folder without the tensors the architecture needs fails listing the missing ones', async () => {
    const folder = tmpDir()
    copyFileSync(hfConfig, join(folder, 'config.json'))
    const state = await readSafetensors(join(dir, 'model.safetensors'))
    for (const k of [...state.keys()]) if (k.startsWith('encoder.layer.1.')) state.delete(k)
    await writeSafetensors(join(folder, 'model.safetensors'), state)
    let message = ''
    try {
      await bertArch.run(folder, inputsOf(), {})
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).to.match(
      /not a bert checkpoint.*16 of \d+ tensors missing \(encoder\.layer\.1\.attention\.self\.query\.weight/
    )
    expect(message.split('\n')).to.have.length(1)
  })

  it('a BERT folder asked to run as DistilBERT is refused by name', async () => {
    const folder = tmpDir()
    copyFileSync(hfConfig, join(folder, 'config.json'))
    copyFileSync(join(dir, 'model.safetensors'), join(folder, 'model.safetensors'))
    let message = ''
    try {
      await distilbertArch.run(folder, inputsOf(), {})
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).to.match(/model_type is bert, but a distilbert encoder was asked for/)
  })

  it('legacy LayerNorm gamma/beta names load like weight/bias', async () => {
    const folder = tmpDir()
    writeFileSync(join(folder, 'config.json'), readFileSync(hfConfig))
    const state = await readSafetensors(join(dir, 'pretraining_state_dict.safetensors'))
    const renamed: TensorMap = new Map()
    for (const [k, v] of state)
      renamed.set(k.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'), v)
    await writeSafetensors(join(folder, 'model.safetensors'), renamed)
    const out = await bertArch.run(folder, inputsOf(), {})
    const cmp = compareArrays(
      out.get('last_hidden_state')!.data as Float32Array,
      toFloat32(io.get('last_hidden_state')!),
      1e-4,
      1e-4
    )
    expect(cmp.ok, `max abs diff ${cmp.maxAbs}`).to.equal(true)
  })
})
