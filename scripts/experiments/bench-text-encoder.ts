// Throughput of the frozen caption encoders at full size with random weights (no download):
// BERT-base (Bio_ClinicalBERT shape) and DistilBERT (medicalai/ClinicalBERT shape), batch 16
// of 64-token captions, mean pooling. Usage: node --import tsx scripts/experiments/bench-text-encoder.ts [bert|distilbert] [batches]
import * as tf from '@tensorflow/tfjs'
import {initBackend} from '../../src/backend/index.js'
import {parseTextEncoderConfig, expectedParameterNames, BERT_POOLER} from '../../src/models/bert/config.js'
import {meanPool} from '../../src/models/bert/layers.js'
import {runEncoder} from '../../src/models/bert/run.js'

const arch = process.argv[2] ?? 'bert'
const batches = Number(process.argv[3] ?? 3)
const backend = await initBackend((process.env.MEDGEN_BACKEND as any) ?? 'auto')
const config = parseTextEncoderConfig(
  arch === 'bert'
    ? {
        model_type: 'bert',
        vocab_size: 28996,
        hidden_size: 768,
        num_hidden_layers: 12,
        num_attention_heads: 12,
        intermediate_size: 3072,
        max_position_embeddings: 512
      }
    : {
        model_type: 'distilbert',
        vocab_size: 119547,
        dim: 768,
        n_layers: 6,
        n_heads: 12,
        hidden_dim: 3072,
        max_position_embeddings: 512
      },
  arch
)
const weights = new Map<string, tf.Tensor>()
const names = arch === 'bert' ? [...expectedParameterNames(config), ...BERT_POOLER] : expectedParameterNames(config)
let count = 0
for (const name of names) {
  const h = config.hidden
  const shape = name.includes('word_embeddings')
    ? [config.vocabSize, h]
    : name.includes('position_embeddings')
      ? [config.maxPositions, h]
      : name.includes('token_type')
        ? [config.typeVocabSize, h]
        : /(intermediate\.dense|ffn\.lin1)\.weight$/.test(name)
          ? [h, config.intermediate]
          : /(layer\.\d+\.output\.dense|ffn\.lin2)\.weight$/.test(name)
            ? [config.intermediate, h]
            : /(intermediate\.dense|ffn\.lin1)\.bias$/.test(name)
              ? [config.intermediate]
              : name.endsWith('.weight') && !/LayerNorm|layer_norm/.test(name)
                ? [h, h]
                : [h]
  weights.set(name, tf.randomNormal(shape, 0, 0.02, 'float32', 1))
  count += shape.reduce((a, b) => a * b, 1)
}
const b = 16,
  l = 64
const ids = tf.randomUniform([b, l], 5, 1000, 'int32', 2) as tf.Tensor2D
const mask = tf.ones([b, l], 'int32') as tf.Tensor2D
console.log(`${arch}: ${(count / 1e6).toFixed(1)}M parameters, backend ${backend}`)
for (let i = 0; i <= batches; i++) {
  const t0 = performance.now()
  const out = runEncoder(config, weights, {inputIds: ids, attentionMask: mask})
  const pooled = meanPool(out.lastHiddenState, mask)
  await pooled.data()
  tf.dispose([out.lastHiddenState, out.poolerOutput, pooled].filter(Boolean) as tf.Tensor[])
  const s = (performance.now() - t0) / 1000
  console.log(`${i === 0 ? 'warm-up' : 'batch'} ${i}: ${s.toFixed(2)} s (${(b / s).toFixed(1)} captions/s)`)
}
