// One interface for every caption encoder (issue 6): encode(texts) -> tokens [B,L,H],
// mask [B,L], pooled [B,H]. The description is JSON that text/model.safetensors carries in
// __metadata__.encoder, so generate and finetune-dit rebuild the very same encoder.
import {existsSync, readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../errors.js'
import type {MedgenConfig} from '../config/schema.js'

export interface EncodedTexts {
  /** per-token (BERT) or per-word (hashed) vectors [B,L,H] */
  tokens: tf.Tensor3D
  /** 1 for real tokens/words, 0 for padding [B,L] */
  mask: tf.Tensor2D
  /** sentence embedding [B,H]: mask-weighted mean (authors) or [CLS] */
  pooled: tf.Tensor2D
}

export type Pooling = 'mean' | 'cls'

export type EncoderDescription =
  {kind: 'hashed'; dim: number} | {kind: 'bert' | 'distilbert'; path: string; pooling: Pooling; hidden: number}

export interface TextEncoder {
  readonly description: EncoderDescription
  readonly hidden: number
  encode(texts: string[]): Promise<EncodedTexts>
  /** Inputs a cache key must cover besides the texts (weights fingerprint). */
  fingerprint(): string
  dispose(): void
}

/** Which encoder a config asks for (text.encoder auto: weights.text folder if set, else hashed). */
export function encoderKindOf(config: MedgenConfig): 'hashed' | 'bert' | 'distilbert' {
  const wanted = config.text.encoder
  if (wanted === 'hashed') return 'hashed'
  const folder = config.weights.text
  if (!folder) {
    if (wanted === 'auto') return 'hashed'
    throw new UserError(
      `text.encoder is ${wanted} but weights.text is empty; set weights.text to a Hugging Face ${wanted} folder`
    )
  }
  if (wanted !== 'auto') return wanted
  const cfgPath = join(folder, 'config.json')
  if (!existsSync(cfgPath))
    throw new UserError(`${cfgPath}: missing; weights.text must be a Hugging Face folder with config.json`)
  let type: unknown
  try {
    type = JSON.parse(readFileSync(cfgPath, 'utf8')).model_type
  } catch {
    throw new UserError(`${cfgPath}: not valid JSON`)
  }
  if (type === 'bert' || type === 'distilbert') return type
  throw new UserError(
    `${cfgPath}: model_type "${String(type)}" is not a supported text encoder (expected bert or distilbert)`
  )
}

export async function createTextEncoder(config: MedgenConfig): Promise<TextEncoder> {
  const kind = encoderKindOf(config)
  if (kind === 'hashed') return createEncoderFromDescription({kind, dim: config.text.hashedDim})
  const {BertTextEncoder} = await import('./bert-encoder.js')
  return BertTextEncoder.load(resolve(config.weights.text), kind, config.text.pooling)
}

export async function createEncoderFromDescription(desc: EncoderDescription): Promise<TextEncoder> {
  if (desc.kind === 'hashed') {
    const {HashedTextEncoder} = await import('./hashed.js')
    return new HashedTextEncoder(desc.dim)
  }
  const {BertTextEncoder} = await import('./bert-encoder.js')
  return BertTextEncoder.load(desc.path, desc.kind, desc.pooling)
}

/**
 * Pooled embeddings of many texts, encoded `batchSize` at a time (each batch padded to its
 * own longest caption, as the authors' tokenizer call does) and returned as host rows [N*H].
 */
export async function encodePooled(
  encoder: TextEncoder,
  texts: string[],
  batchSize: number,
  onBatch?: (n: number) => void
): Promise<Float32Array> {
  const h = encoder.hidden
  const out = new Float32Array(texts.length * h)
  // Batches of similar length waste less compute on padding; mask-weighted pooling makes the
  // result independent of the padding, so the order does not change the embeddings.
  const order = texts.map((t, i) => i).sort((a, b) => texts[a].length - texts[b].length || a - b)
  for (let start = 0; start < texts.length; start += batchSize) {
    const rows = order.slice(start, start + batchSize)
    const enc = await encoder.encode(rows.map(i => texts[i]))
    const pooled = (await enc.pooled.data()) as Float32Array
    rows.forEach((row, k) => out.set(pooled.subarray(k * h, (k + 1) * h), row * h))
    tf.dispose([enc.tokens, enc.mask, enc.pooled])
    onBatch?.(rows.length)
  }
  return out
}
