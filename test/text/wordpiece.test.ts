// Golden parity with transformers' slow BertTokenizer (test/fixtures/golden/wordpiece): every
// token list and id sequence identical, cased and uncased, singles and pairs.
import {expect} from 'chai'
import {readFileSync, writeFileSync, mkdirSync, copyFileSync} from 'node:fs'
import {join} from 'node:path'
import {WordPieceTokenizer} from '../../src/text/wordpiece.js'
import {goldenDir, tmpDir} from '../helpers/tmp.js'

const dir = join(goldenDir, 'wordpiece')
const golden = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'))
const maxLength: number = golden.max_length

for (const mode of ['cased', 'uncased'] as const) {
  describe(`wordpiece golden (${mode})`, () => {
    const spec = golden.modes[mode]
    const tok = WordPieceTokenizer.fromFolder(dir, {doLowerCase: spec.do_lower_case})

    it(`matches tokens and ids of all ${spec.cases.length} texts`, () => {
      const failures: string[] = []
      for (const c of spec.cases) {
        const tokens = tok.tokenize(c.text)
        const full = tok.encode(c.text, null, {truncation: false}).inputIds
        const enc = tok.encode(c.text, null, {maxLength, truncation: true, padding: 'max_length'})
        const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
        if (!same(tokens, c.tokens))
          failures.push(`#${c.index} ${c.category} tokens ${JSON.stringify(tokens)} != ${JSON.stringify(c.tokens)}`)
        if (!same(full, c.input_ids_full)) failures.push(`#${c.index} input_ids_full`)
        if (!same(enc.inputIds, c.input_ids)) failures.push(`#${c.index} input_ids`)
        if (!same(enc.attentionMask, c.attention_mask)) failures.push(`#${c.index} attention_mask`)
        if (!same(enc.tokenTypeIds, c.token_type_ids)) failures.push(`#${c.index} token_type_ids`)
      }
      expect(failures, failures.join('\n')).to.deep.equal([])
    })

    it(`matches all ${spec.pairs.length} sentence pairs (longest_first truncation, token types)`, () => {
      for (const p of spec.pairs) {
        const enc = tok.encode(p.text_a, p.text_b, {maxLength, truncation: true, padding: 'max_length'})
        expect(enc.inputIds, `pair ${p.index}`).to.deep.equal(p.input_ids)
        expect(enc.attentionMask, `pair ${p.index}`).to.deep.equal(p.attention_mask)
        expect(enc.tokenTypeIds, `pair ${p.index}`).to.deep.equal(p.token_type_ids)
        expect(tok.encode(p.text_a, p.text_b, {truncation: false}).inputIds).to.deep.equal(p.input_ids_full)
      }
    })
  })
}

describe('wordpiece folder loading', () => {
  it('lower-cases when tokenizer_config.json is absent and follows do_lower_case when present', () => {
    const folder = tmpDir()
    copyFileSync(join(dir, 'vocab.txt'), join(folder, 'vocab.txt'))
    expect(WordPieceTokenizer.fromFolder(folder).tokenize('IRREGULAR Lesion')).to.deep.equal(['irregular', 'lesion'])
    writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify({do_lower_case: false, model_max_length: 8}))
    const cased = WordPieceTokenizer.fromFolder(folder)
    expect(cased.doLowerCase).to.equal(false)
    expect(cased.tokenize('Irregular')).to.deep.equal(['Irregular'])
    // model_max_length applies when no maxLength is given (the authors' `truncation=True` call)
    expect(cased.encode('lesion lesion lesion lesion lesion lesion lesion lesion').inputIds).to.have.length(8)
  })

  it('pads a batch to its longest row', () => {
    const tok = WordPieceTokenizer.fromFolder(dir)
    const rows = tok.encodeBatch(['benign', 'irregular lesion with blurred borders'])
    expect(rows[0].inputIds.length).to.equal(rows[1].inputIds.length)
    expect(rows[0].attentionMask.filter(v => v === 1)).to.have.length(3)
  })

  it('names the missing file', () => {
    const empty = tmpDir()
    mkdirSync(join(empty, 'x'))
    expect(() => WordPieceTokenizer.fromFolder(empty)).to.throw(/vocab\.txt: no such file/)
  })
})
