// A frozen BERT/DistilBERT caption encoder (docs/REFERENCE.md §4.1): tokenizer from vocab.txt +
// tokenizer_config.json, padding to the longest caption of the batch, truncation at the
// tokenizer's model_max_length (capped by the position table), eval mode, pooled by the
// attention-mask mean (authors) or the [CLS] vector.
import {statSync} from 'node:fs'
import * as tf from '@tensorflow/tfjs'
import {WordPieceTokenizer} from './wordpiece.js'
import type {EncodedTexts, EncoderDescription, Pooling, TextEncoder} from './encoder.js'
import type {TextArch, TextEncoderConfig} from '../models/bert/config.js'
import {disposeWeights, loadEncoderWeights} from '../models/bert/load.js'
import {meanPool, type Weights} from '../models/bert/layers.js'
import {runEncoder} from '../models/bert/run.js'

export class BertTextEncoder implements TextEncoder {
  readonly description: EncoderDescription
  readonly hidden: number
  private readonly maxLength: number

  private constructor(
    readonly folder: string,
    readonly config: TextEncoderConfig,
    private readonly weights: Weights,
    readonly tokenizer: WordPieceTokenizer,
    readonly pooling: Pooling,
    private readonly weightsFile: string
  ) {
    this.hidden = config.hidden
    this.maxLength = Math.min(tokenizer.modelMaxLength, config.maxPositions)
    this.description = {kind: config.arch, path: folder, pooling, hidden: config.hidden}
  }

  static async load(folder: string, arch: TextArch, pooling: Pooling): Promise<BertTextEncoder> {
    const loaded = await loadEncoderWeights(folder, {expectArch: arch})
    const tokenizer = WordPieceTokenizer.fromFolder(folder)
    return new BertTextEncoder(folder, loaded.config, loaded.weights, tokenizer, pooling, loaded.weightsFile)
  }

  fingerprint(): string {
    const s = statSync(this.weightsFile)
    return `${this.weightsFile}:${s.size}:${Math.floor(s.mtimeMs)}:lower=${this.tokenizer.doLowerCase}:max=${this.maxLength}`
  }

  async encode(texts: string[]): Promise<EncodedTexts> {
    const rows = this.tokenizer.encodeBatch(texts, {maxLength: this.maxLength, truncation: true, padding: 'longest'})
    const b = rows.length
    const l = rows[0]?.inputIds.length ?? 0
    const flat = (key: 'inputIds' | 'attentionMask' | 'tokenTypeIds') => Int32Array.from(rows.flatMap(r => r[key]))
    const inputIds = tf.tensor2d(flat('inputIds'), [b, l], 'int32')
    const mask = tf.tensor2d(flat('attentionMask'), [b, l], 'int32')
    const tokenTypeIds = tf.tensor2d(flat('tokenTypeIds'), [b, l], 'int32')
    const out = runEncoder(this.config, this.weights, {inputIds, attentionMask: mask, tokenTypeIds})
    const pooled =
      this.pooling === 'cls'
        ? tf.tidy(
            () => out.lastHiddenState.slice([0, 0, 0], [b, 1, this.hidden]).reshape([b, this.hidden]) as tf.Tensor2D
          )
        : meanPool(out.lastHiddenState, mask)
    const maskFloat = mask.toFloat() as tf.Tensor2D
    tf.dispose([inputIds, tokenTypeIds, mask, out.poolerOutput].filter(Boolean) as tf.Tensor[])
    return {tokens: out.lastHiddenState, mask: maskFloat, pooled}
  }

  dispose(): void {
    disposeWeights(this.weights)
  }
}
