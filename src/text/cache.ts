// Frozen encoder outputs, cached per caption set: <run>/cache/text/<sha256>.safetensors keyed
// by the encoder (description + weights fingerprint) and the exact caption texts, so re-runs
// and resumed runs of align-text never re-encode (issue 6).
import {join} from 'node:path'
import {sha256, stableStringify, pathExists} from '../io/atomic.js'
import {readSafetensors, writeSafetensors} from '../io/safetensors.js'
import {encodePooled, type TextEncoder} from './encoder.js'
import {runLayout} from '../run/layout.js'

export interface CachedEmbeddings {
  pooled: Float32Array
  hidden: number
  hit: boolean
  path: string
}

export function textCacheKey(encoder: TextEncoder, texts: string[]): string {
  return sha256(stableStringify({encoder: encoder.description, fingerprint: encoder.fingerprint(), texts}))
}

export async function cachedPooledEmbeddings(
  encoder: TextEncoder,
  texts: string[],
  runDir: string,
  batchSize: number,
  onBatch?: (n: number) => void
): Promise<CachedEmbeddings> {
  const path = join(runLayout(runDir).cache.text, `${textCacheKey(encoder, texts)}.safetensors`)
  if (await pathExists(path)) {
    const t = (await readSafetensors(path)).get('pooled')
    if (t && t.shape[0] === texts.length && t.shape[1] === encoder.hidden) {
      return {pooled: t.data as Float32Array, hidden: encoder.hidden, hit: true, path}
    }
  }
  const pooled = await encodePooled(encoder, texts, batchSize, onBatch)
  await writeSafetensors(
    path,
    {pooled: {dtype: 'F32', shape: [texts.length, encoder.hidden], data: pooled}},
    {encoder: JSON.stringify(encoder.description), count: String(texts.length)}
  )
  return {pooled, hidden: encoder.hidden, hit: false, path}
}
