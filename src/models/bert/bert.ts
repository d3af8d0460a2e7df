// BertModel forward (transformers modeling_bert.py, eval mode): embeddings word + absolute
// position + token type -> LayerNorm; post-LN encoder layers; optional tanh pooler on [CLS].
import * as tf from '@tensorflow/tfjs'
import type {TextEncoderConfig} from './config.js'
import {activation, additiveMask, attend, layerNorm, linear, param, type Weights} from './layers.js'

export interface EncoderInputs {
  inputIds: tf.Tensor2D
  attentionMask: tf.Tensor2D
  tokenTypeIds?: tf.Tensor2D
}
export interface EncoderOutputs {
  lastHiddenState: tf.Tensor3D
  poolerOutput: tf.Tensor2D | null
}

export function bertForward(c: TextEncoderConfig, w: Weights, inputs: EncoderInputs): EncoderOutputs {
  const [lastHiddenState, poolerOutput] = tf.tidy(() => {
    const [b, l] = inputs.inputIds.shape
    const ids = inputs.inputIds.toInt()
    const positions = tf.range(0, l, 1, 'int32')
    const types = (inputs.tokenTypeIds ?? tf.zeros([b, l], 'int32')).toInt()
    const embedded = tf
      .gather(param(w, 'embeddings.word_embeddings.weight'), ids)
      .add(tf.gather(param(w, 'embeddings.position_embeddings.weight'), positions).expandDims(0))
      .add(tf.gather(param(w, 'embeddings.token_type_embeddings.weight'), types))
    let x = layerNorm(w, 'embeddings.LayerNorm', embedded, c.layerNormEps)
    const mask = additiveMask(inputs.attentionMask)
    for (let i = 0; i < c.layers; i++) {
      const p = `encoder.layer.${i}`
      const input = x
      // one tidy per layer: the outer one would keep all 12 layers' intermediates (BERT-base over
      // 16 captions x 64 tokens: 3.2 GB tracked, test:scale)
      x = tf.tidy(() => {
        const {context} = attend(
          linear(w, `${p}.attention.self.query`, input),
          linear(w, `${p}.attention.self.key`, input),
          linear(w, `${p}.attention.self.value`, input),
          c.heads,
          mask
        )
        const attended = layerNorm(
          w,
          `${p}.attention.output.LayerNorm`,
          linear(w, `${p}.attention.output.dense`, context).add(input),
          c.layerNormEps
        )
        const inner = activation(c.activation, linear(w, `${p}.intermediate.dense`, attended))
        return layerNorm(
          w,
          `${p}.output.LayerNorm`,
          linear(w, `${p}.output.dense`, inner).add(attended),
          c.layerNormEps
        )
      })
    }
    const lastHiddenState = x as tf.Tensor3D
    const poolerOutput = w.has('pooler.dense.weight')
      ? (tf.tanh(
          linear(w, 'pooler.dense', lastHiddenState.slice([0, 0, 0], [b, 1, c.hidden]).reshape([b, c.hidden]))
        ) as tf.Tensor2D)
      : null
    return poolerOutput ? [lastHiddenState, poolerOutput] : [lastHiddenState]
  }) as [tf.Tensor3D, tf.Tensor2D?]
  return {lastHiddenState, poolerOutput: poolerOutput ?? null}
}
