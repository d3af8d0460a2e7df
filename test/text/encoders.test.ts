// DistilBERT loaded from a Hugging Face-layout folder the test writes, the hashed encoder,
// and the per-caption-set cache.
import {expect} from 'chai'
import {copyFileSync, writeFileSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {goldenDir, tmpDir} from '../helpers/tmp.js'
import {writeSafetensors} from '../../src/io/safetensors.js'
import type {TensorMap} from '../../src/io/tensor-map.js'
import {Rng} from '../../src/util/rng.js'
import {BertTextEncoder} from '../../src/text/bert-encoder.js'
import {HashedTextEncoder} from '../../src/text/hashed.js'
import {cachedPooledEmbeddings} from '../../src/text/cache.js'
import {encodePooled} from '../../src/text/encoder.js'

const vocabFile = join(goldenDir, 'wordpiece', 'vocab.txt')

/** A random DistilBertForMaskedLM checkpoint (prefixed keys plus the MLM head the loader ignores). */
async function writeTinyDistilBert(dir: string, seed = 7): Promise<{dim: number}> {
  const vocab = readFileSync(vocabFile, 'utf8')
    .split('\n')
    .filter((l, i, a) => i < a.length - 1 || l !== '').length
  const dim = 32,
    hiddenDim = 64,
    layers = 2,
    positions = 64
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'distilbert',
      dim,
      hidden_dim: hiddenDim,
      n_layers: layers,
      n_heads: 4,
      max_position_embeddings: positions,
      vocab_size: vocab,
      activation: 'gelu',
      pad_token_id: 0
    })
  )
  copyFileSync(vocabFile, join(dir, 'vocab.txt'))
  const rng = new Rng(seed)
  const state: TensorMap = new Map()
  const put = (name: string, shape: number[], std = 0.2, mean = 0) =>
    state.set(`distilbert.${name}`, {
      dtype: 'F32',
      shape,
      data: rng
        .normalArray(
          shape.reduce((a, b) => a * b, 1),
          std
        )
        .map(v => v + mean)
    })
  put('embeddings.word_embeddings.weight', [vocab, dim])
  put('embeddings.position_embeddings.weight', [positions, dim])
  put('embeddings.LayerNorm.weight', [dim], 0.1, 1)
  put('embeddings.LayerNorm.bias', [dim], 0.1)
  for (let i = 0; i < layers; i++) {
    const p = `transformer.layer.${i}`
    for (const n of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) {
      put(`${p}.attention.${n}.weight`, [dim, dim])
      put(`${p}.attention.${n}.bias`, [dim], 0.1)
    }
    put(`${p}.sa_layer_norm.weight`, [dim], 0.1, 1)
    put(`${p}.sa_layer_norm.bias`, [dim], 0.1)
    put(`${p}.ffn.lin1.weight`, [hiddenDim, dim])
    put(`${p}.ffn.lin1.bias`, [hiddenDim], 0.1)
    put(`${p}.ffn.lin2.weight`, [dim, hiddenDim])
    put(`${p}.ffn.lin2.bias`, [dim], 0.1)
    put(`${p}.output_layer_norm.weight`, [dim], 0.1, 1)
    put(`${p}.output_layer_norm.bias`, [dim], 0.1)
  }
  state.set('vocab_projector.bias', {dtype: 'F32', shape: [vocab], data: new Float32Array(vocab)})
  await writeSafetensors(join(dir, 'model.safetensors'), state)
  return {dim}
}

describe('DistilBERT encoder (random weights in HF layout)', () => {
  before(async () => {
    await useTestBackend()
  })

  it('loads, runs, and gives real tokens the same outputs with or without padding', async () => {
    const dir = tmpDir()
    const {dim} = await writeTinyDistilBert(dir)
    const enc = await BertTextEncoder.load(dir, 'distilbert', 'mean')
    expect(enc.config.layers).to.equal(2)
    const short = 'Benign nevus.'
    const batch = await enc.encode([
      short,
      'Irregular, asymmetric lesion with blurred borders and a reticular dark-brown pigment network.'
    ])
    expect(batch.tokens.shape[0]).to.equal(2)
    expect(batch.tokens.shape[2]).to.equal(dim)
    expect(batch.pooled.shape).to.deep.equal([2, dim])
    const maskRow = Array.from((await batch.mask.data()).slice(0, batch.mask.shape[1]))
    const real = maskRow.filter(v => v === 1).length
    expect(real).to.equal(5) // [CLS] benign nevus . [SEP]
    expect(maskRow.length).to.be.greaterThan(real)
    const alone = await enc.encode([short])
    expect(alone.tokens.shape[1]).to.equal(real)
    const padded = tf.tidy(() => batch.tokens.slice([0, 0, 0], [1, real, dim]))
    const diff = tf.tidy(() => padded.sub(alone.tokens).abs().max().dataSync()[0])
    const pooledDiff = tf.tidy(() => batch.pooled.slice([0, 0], [1, dim]).sub(alone.pooled).abs().max().dataSync()[0])
    expect(diff).to.be.lessThan(1e-5)
    expect(pooledDiff).to.be.lessThan(1e-5)
    // the outputs depend on the text (weights really loaded and used)
    const other = tf.tidy(
      () =>
        batch.pooled
          .slice([0, 0], [1, dim])
          .sub(batch.pooled.slice([1, 0], [1, dim]))
          .abs()
          .max()
          .dataSync()[0]
    )
    expect(other).to.be.greaterThan(1e-3)
    const cls = await BertTextEncoder.load(dir, 'distilbert', 'cls')
    const clsOut = await cls.encode([short])
    const clsDiff = tf.tidy(
      () =>
        clsOut.pooled
          .sub(alone.tokens.slice([0, 0, 0], [1, 1, dim]).reshape([1, dim]))
          .abs()
          .max()
          .dataSync()[0]
    )
    expect(clsDiff).to.equal(0)
    tf.dispose([
      batch.tokens,
      batch.mask,
      batch.pooled,
      alone.tokens,
      alone.mask,
      alone.pooled,
      padded,
      clsOut.tokens,
      clsOut.mask,
      clsOut.pooled
    ])
    enc.dispose()
    cls.dispose()
  })

  it('encodePooled batches by length but returns rows in caption order', async () => {
    const dir = tmpDir()
    const {dim} = await writeTinyDistilBert(dir, 3)
    const enc = await BertTextEncoder.load(dir, 'distilbert', 'mean')
    const texts = [
      'Irregular, asymmetric lesion with blurred borders.',
      'Nevus.',
      'Dark-brown network and globules.',
      'Lesion',
      'a b c d e f g'
    ]
    const rows = await encodePooled(enc, texts, 2)
    for (let i = 0; i < texts.length; i++) {
      const single = await enc.encode([texts[i]])
      const ref = await single.pooled.data()
      for (let k = 0; k < dim; k++) expect(rows[i * dim + k]).to.be.closeTo(ref[k], 1e-5)
      tf.dispose([single.tokens, single.mask, single.pooled])
    }
    enc.dispose()
  })

  it('a DistilBERT folder with a tensor missing names it', async () => {
    const dir = tmpDir()
    await writeTinyDistilBert(dir)
    const {readSafetensors} = await import('../../src/io/safetensors.js')
    const state = await readSafetensors(join(dir, 'model.safetensors'))
    state.delete('distilbert.transformer.layer.1.ffn.lin2.weight')
    await writeSafetensors(join(dir, 'model.safetensors'), state)
    let message = ''
    try {
      await BertTextEncoder.load(dir, 'distilbert', 'mean')
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).to.match(/1 of \d+ tensors missing \(transformer\.layer\.1\.ffn\.lin2\.weight\)/)
  })
})

describe('hashed n-gram encoder', () => {
  before(async () => {
    await useTestBackend()
  })

  it('is deterministic, L2-normalised, word-sensitive, and masks per-word tokens', async () => {
    const enc = new HashedTextEncoder(256)
    const texts = ['Irregular lesion, dark brown.', 'irregular LESION dark brown', 'Round lesion, dark brown.', '']
    const out = await enc.encode(texts)
    const pooled = await out.pooled.array()
    const norm = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0))
    expect(norm(pooled[0])).to.be.closeTo(1, 1e-5)
    expect(pooled[0]).to.deep.equal(pooled[1]) // case and punctuation do not matter
    const cos = pooled[0].reduce((a, v, i) => a + v * pooled[2][i], 0)
    expect(cos).to.be.lessThan(0.95).and.greaterThan(0.3) // one word changed
    expect(norm(pooled[3])).to.equal(0)
    expect(out.tokens.shape).to.deep.equal([4, 4, 256])
    expect(Array.from(await out.mask.data()).slice(0, 4)).to.deep.equal([1, 1, 1, 1])
    expect(Array.from(await out.mask.data()).slice(12, 16)).to.deep.equal([0, 0, 0, 0])
    const again = await new HashedTextEncoder(256).encode(texts)
    expect(await again.pooled.array()).to.deep.equal(pooled)
    tf.dispose([out.tokens, out.mask, out.pooled, again.tokens, again.mask, again.pooled])
  })

  it('caches pooled embeddings per caption set and reuses them', async () => {
    const run = tmpDir()
    const enc = new HashedTextEncoder(64)
    const texts = ['a lesion', 'another lesion', 'third one']
    const first = await cachedPooledEmbeddings(enc, texts, run, 2)
    const second = await cachedPooledEmbeddings(enc, texts, run, 2)
    expect(first.hit).to.equal(false)
    expect(second.hit).to.equal(true)
    expect(second.path).to.equal(first.path)
    expect(Array.from(second.pooled)).to.deep.equal(Array.from(first.pooled))
    const changed = await cachedPooledEmbeddings(enc, [...texts.slice(0, 2), 'third two'], run, 2)
    expect(changed.hit).to.equal(false)
  })
})
