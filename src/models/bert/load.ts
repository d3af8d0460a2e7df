// Loads a BERT/DistilBERT encoder from a Hugging Face folder: config.json, vocab.txt, optional
// tokenizer_config.json, and model.safetensors (or a sharded index) or pytorch_model.bin.
// Checkpoints come as bare BertModel/DistilBertModel state_dicts or wrapped in a pretraining
// head (Bio_ClinicalBERT ships BertForPreTraining: `bert.` prefix plus `cls.*`, README-text-metrics.md):
// the prefix is stripped, heads and `*.position_ids` buffers ignored, legacy gamma/beta renamed.
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {UserError} from '../../errors.js'
import {readSafetensors} from '../../io/safetensors.js'
import {readTorchCheckpoint} from '../../io/torch.js'
import {readShardIndex} from '../../io/weights.js'
import type {TensorMap} from '../../io/tensor-map.js'
import {torchToTf, kindOf} from '../params.js'
import {
  BERT_POOLER,
  expectedParameterNames,
  readTextEncoderConfig,
  type TextArch,
  type TextEncoderConfig
} from './config.js'
import type {Weights} from './layers.js'

export interface LoadedEncoderWeights {
  config: TextEncoderConfig
  weights: Weights
  weightsFile: string
}

export interface LoadEncoderOptions {
  /** config file other than <dir>/config.json */
  configFile?: string
  /** weights file other than the folder's model.safetensors / pytorch_model.bin */
  weightsFile?: string
  /** refuse a folder holding the other architecture */
  expectArch?: TextArch
}

const WEIGHT_FILES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json'
]

export function findWeightsFile(dir: string): string {
  for (const name of WEIGHT_FILES) if (existsSync(join(dir, name))) return join(dir, name)
  throw new UserError(`${dir}: no model.safetensors or pytorch_model.bin in the text encoder folder`)
}

/** Reads a safetensors or PyTorch weights file (or a sharded index of either) into host tensors. */
export async function readWeightsFile(path: string): Promise<TensorMap> {
  if (path.endsWith('.index.json')) {
    const out: TensorMap = new Map()
    for (const shard of new Set((await readShardIndex(path)).values())) {
      if (shard.endsWith('.index.json')) throw new UserError(`${path}: a shard may not be another index (${shard})`)
      for (const [k, v] of await readWeightsFile(shard)) out.set(k, v)
    }
    return out
  }
  if (path.endsWith('.safetensors')) return readSafetensors(path)
  if (path.endsWith('.bin') || path.endsWith('.pt') || path.endsWith('.pth')) return readTorchCheckpoint(path)
  throw new UserError(`${path}: unknown weights format (expected .safetensors or .bin)`)
}

const IGNORED = [
  /^cls\./,
  /^vocab_(transform|layer_norm|projector)\./,
  /^classifier\./,
  /^pre_classifier\./,
  /^qa_outputs\./,
  /\.position_ids$/
]

/** Canonical names: prefix stripped, gamma/beta -> weight/bias; heads dropped. */
export function normaliseStateDict(raw: TensorMap, arch: TextArch): TensorMap {
  const prefix = `${arch}.`
  const hasPrefix = [...raw.keys()].some(k => k.startsWith(prefix))
  const out: TensorMap = new Map()
  for (const [key, value] of raw) {
    let name = hasPrefix ? (key.startsWith(prefix) ? key.slice(prefix.length) : key) : key
    if (IGNORED.some(r => r.test(name))) continue
    name = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias')
    out.set(name, value)
  }
  return out
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

function expectedShape(c: TextEncoderConfig, name: string): number[] | null {
  const h = c.hidden
  if (name === 'embeddings.word_embeddings.weight') return [c.vocabSize, h]
  if (name === 'embeddings.position_embeddings.weight') return [c.maxPositions, h]
  if (name === 'embeddings.token_type_embeddings.weight') return [c.typeVocabSize, h]
  if (/(intermediate\.dense|ffn\.lin1)\.weight$/.test(name)) return [c.intermediate, h]
  if (/(intermediate\.dense|ffn\.lin1)\.bias$/.test(name)) return [c.intermediate]
  if (/(layer\.\d+\.output\.dense|ffn\.lin2)\.weight$/.test(name)) return [h, c.intermediate]
  if (name.endsWith('.weight') && /(query|key|value|dense|_lin)\.weight$/.test(name)) return [h, h]
  if (name.endsWith('.bias') || name.endsWith('.weight')) return [h]
  return null
}

/** Loads config + weights, checking that every tensor the architecture needs is there. */
export async function loadEncoderWeights(dir: string, opts: LoadEncoderOptions = {}): Promise<LoadedEncoderWeights> {
  const configFile = opts.configFile ?? join(dir, 'config.json')
  const config = readTextEncoderConfig(configFile)
  if (opts.expectArch && config.arch !== opts.expectArch) {
    throw new UserError(
      `${configFile}: model_type is ${config.arch}, but a ${opts.expectArch} encoder was asked for (text.encoder or --arch)`
    )
  }
  const weightsFile = opts.weightsFile ?? findWeightsFile(dir)
  const raw = await readWeightsFile(weightsFile)
  const otherArch: TextArch = config.arch === 'bert' ? 'distilbert' : 'bert'
  if (
    [...raw.keys()].some(k => k.startsWith(`${otherArch}.`)) &&
    ![...raw.keys()].some(k => k.startsWith(`${config.arch}.`))
  ) {
    throw new UserError(`${weightsFile}: holds ${otherArch} weights but ${configFile} says model_type ${config.arch}`)
  }
  const state = normaliseStateDict(raw, config.arch)
  const expected = expectedParameterNames(config)
  const missing = expected.filter(n => !state.has(n))
  if (missing.length) {
    const shown = missing.slice(0, 6).join(', ')
    throw new UserError(
      `${weightsFile}: not a ${config.arch} checkpoint matching ${configFile}: ${missing.length} of ${expected.length} tensors missing (${shown}${missing.length > 6 ? ', ...' : ''})`
    )
  }
  const wanted =
    config.arch === 'bert' && BERT_POOLER.every(n => state.has(n)) ? [...expected, ...BERT_POOLER] : expected
  for (const name of wanted) {
    const shape = expectedShape(config, name)
    const got = state.get(name)!.shape
    if (shape && !sameShape(shape, got)) {
      throw new UserError(`${weightsFile}: ${name} has shape [${got}], ${configFile} implies [${shape}]`)
    }
  }
  const weights: Weights = new Map()
  for (const name of wanted) weights.set(name, torchToTf(state.get(name)!, kindOf(state.get(name)!.shape, name)))
  return {config, weights, weightsFile}
}

export function disposeWeights(weights: Weights): void {
  for (const t of weights.values()) t.dispose()
  weights.clear()
}
