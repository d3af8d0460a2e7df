// Hugging Face config.json for the two text encoders the issue names: BERT (Bio_ClinicalBERT)
// and DistilBERT (medicalai/ClinicalBERT, docs/REFERENCE.md §4.1). Everything comes from the file.
import {readFileSync} from 'node:fs'
import {UserError, describeFsError} from '../../errors.js'

export type TextArch = 'bert' | 'distilbert'

export interface TextEncoderConfig {
  arch: TextArch
  vocabSize: number
  hidden: number
  layers: number
  heads: number
  intermediate: number
  maxPositions: number
  /** BERT only; DistilBERT has no token-type embeddings */
  typeVocabSize: number
  layerNormEps: number
  activation: string
  padTokenId: number
}

function num(cfg: Record<string, unknown>, path: string, key: string, fallback?: number): number {
  const v = cfg[key]
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (fallback !== undefined) return fallback
  throw new UserError(`${path}: ${key} is missing or not a number`)
}

export function parseTextEncoderConfig(cfg: Record<string, unknown>, path: string): TextEncoderConfig {
  const type = String(cfg.model_type ?? '')
  if (type === 'bert') {
    if (cfg.position_embedding_type !== undefined && cfg.position_embedding_type !== 'absolute') {
      throw new UserError(
        `${path}: position_embedding_type ${String(cfg.position_embedding_type)} is not supported (only absolute)`
      )
    }
    return {
      arch: 'bert',
      vocabSize: num(cfg, path, 'vocab_size'),
      hidden: num(cfg, path, 'hidden_size'),
      layers: num(cfg, path, 'num_hidden_layers'),
      heads: num(cfg, path, 'num_attention_heads'),
      intermediate: num(cfg, path, 'intermediate_size'),
      maxPositions: num(cfg, path, 'max_position_embeddings'),
      typeVocabSize: num(cfg, path, 'type_vocab_size', 2),
      layerNormEps: num(cfg, path, 'layer_norm_eps', 1e-12),
      activation: String(cfg.hidden_act ?? 'gelu'),
      padTokenId: num(cfg, path, 'pad_token_id', 0)
    }
  }
  if (type === 'distilbert') {
    return {
      arch: 'distilbert',
      vocabSize: num(cfg, path, 'vocab_size'),
      hidden: num(cfg, path, 'dim'),
      layers: num(cfg, path, 'n_layers'),
      heads: num(cfg, path, 'n_heads'),
      intermediate: num(cfg, path, 'hidden_dim'),
      maxPositions: num(cfg, path, 'max_position_embeddings'),
      typeVocabSize: 0,
      layerNormEps: 1e-12, // hard-coded in modeling_distilbert.py
      activation: String(cfg.activation ?? 'gelu'),
      padTokenId: num(cfg, path, 'pad_token_id', 0)
    }
  }
  throw new UserError(`${path}: model_type "${type}" is not a supported text encoder (expected bert or distilbert)`)
}

export function readTextEncoderConfig(path: string): TextEncoderConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
  let cfg: Record<string, unknown>
  try {
    cfg = JSON.parse(text)
  } catch {
    throw new UserError(`${path}: not valid JSON`)
  }
  return parseTextEncoderConfig(cfg, path)
}

/** state_dict names (no prefix) the architecture needs, in PyTorch naming. */
export function expectedParameterNames(c: TextEncoderConfig): string[] {
  const names: string[] = []
  const lin = (p: string) => names.push(`${p}.weight`, `${p}.bias`)
  if (c.arch === 'bert') {
    names.push(
      'embeddings.word_embeddings.weight',
      'embeddings.position_embeddings.weight',
      'embeddings.token_type_embeddings.weight'
    )
    lin('embeddings.LayerNorm')
    for (let i = 0; i < c.layers; i++) {
      const p = `encoder.layer.${i}`
      for (const n of [
        'attention.self.query',
        'attention.self.key',
        'attention.self.value',
        'attention.output.dense',
        'attention.output.LayerNorm',
        'intermediate.dense',
        'output.dense',
        'output.LayerNorm'
      ])
        lin(`${p}.${n}`)
    }
  } else {
    names.push('embeddings.word_embeddings.weight', 'embeddings.position_embeddings.weight')
    lin('embeddings.LayerNorm')
    for (let i = 0; i < c.layers; i++) {
      const p = `transformer.layer.${i}`
      for (const n of [
        'attention.q_lin',
        'attention.k_lin',
        'attention.v_lin',
        'attention.out_lin',
        'sa_layer_norm',
        'ffn.lin1',
        'ffn.lin2',
        'output_layer_norm'
      ])
        lin(`${p}.${n}`)
    }
  }
  return names
}

/** BertModel's pooler is optional (add_pooling_layer=False checkpoints lack it). */
export const BERT_POOLER = ['pooler.dense.weight', 'pooler.dense.bias']
