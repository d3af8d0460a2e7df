// The embedded default caption encoder when no BERT folder is configured: deterministic
// signed feature hashing (Weinberger et al. 2009) of word unigrams, word bigrams and
// character trigrams into `dim` buckets, L2-normalised. No weights, no download, and the same
// interface as BERT: tokens are per-word vectors (unigram + its trigrams), pooled is the
// whole caption (all features). Words are lower-cased runs of letters/digits.
import * as tf from '@tensorflow/tfjs'
import {hashString} from '../util/rng.js'
import type {EncodedTexts, EncoderDescription, TextEncoder} from './encoder.js'

const WORD = /[\p{L}\p{N}]+/gu

export function hashedWords(text: string): string[] {
  return text.normalize('NFC').toLowerCase().match(WORD) ?? []
}

function charTrigrams(word: string): string[] {
  const chars = Array.from(`<${word}>`)
  const out: string[] = []
  for (let i = 0; i + 3 <= chars.length; i++) out.push(chars.slice(i, i + 3).join(''))
  return out
}

/** Adds `weight` times the signed one-hot of `feature` into row[offset .. offset+dim). */
function addFeature(row: Float32Array, offset: number, dim: number, feature: string, weight: number): void {
  const h = hashString(feature)
  // A second, independent hash gives the sign, so collisions cancel in expectation.
  const sign = hashString(`sign:${feature}`) & 1 ? 1 : -1
  row[offset + (h % dim)] += sign * weight
}

function normalise(row: Float32Array, offset: number, dim: number): void {
  let norm = 0
  for (let i = 0; i < dim; i++) norm += row[offset + i] ** 2
  norm = Math.sqrt(norm)
  if (norm > 0) for (let i = 0; i < dim; i++) row[offset + i] /= norm
}

/** Adds one word's features: its unigram (weight 1) and its trigrams (sharing weight 1). */
function addWord(row: Float32Array, offset: number, dim: number, word: string): void {
  addFeature(row, offset, dim, `w:${word}`, 1)
  const grams = charTrigrams(word)
  for (const g of grams) addFeature(row, offset, dim, `c:${g}`, 1 / Math.sqrt(grams.length))
}

export class HashedTextEncoder implements TextEncoder {
  readonly description: EncoderDescription
  readonly hidden: number

  constructor(readonly dim: number) {
    this.hidden = dim
    this.description = {kind: 'hashed', dim}
  }

  fingerprint(): string {
    return `hashed-v1:${this.dim}`
  }

  /** Host-side pooled vectors [B*dim]; encode() wraps them in tensors. */
  pooledRows(texts: string[]): Float32Array {
    const d = this.dim
    const out = new Float32Array(texts.length * d)
    texts.forEach((text, b) => {
      const words = hashedWords(text)
      for (const w of words) addWord(out, b * d, d, w)
      for (let i = 0; i + 1 < words.length; i++) addFeature(out, b * d, d, `b:${words[i]} ${words[i + 1]}`, 1)
      normalise(out, b * d, d)
    })
    return out
  }

  async encode(texts: string[]): Promise<EncodedTexts> {
    const d = this.dim
    const words = texts.map(hashedWords)
    const l = Math.max(1, ...words.map(w => w.length))
    const tokens = new Float32Array(texts.length * l * d)
    const mask = new Float32Array(texts.length * l)
    words.forEach((ws, b) =>
      ws.forEach((w, i) => {
        const offset = (b * l + i) * d
        addWord(tokens, offset, d, w)
        normalise(tokens, offset, d)
        mask[b * l + i] = 1
      })
    )
    return {
      tokens: tf.tensor3d(tokens, [texts.length, l, d]),
      mask: tf.tensor2d(mask, [texts.length, l]),
      pooled: tf.tensor2d(this.pooledRows(texts), [texts.length, d])
    }
  }

  dispose(): void {
    /* no weights */
  }
}
