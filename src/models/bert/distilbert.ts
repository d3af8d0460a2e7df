// DistilBertModel forward (transformers modeling_distilbert.py, eval mode), the encoder of
// medicalai/ClinicalBERT (docs/REFERENCE.md §4.1): word + learned position embeddings (no token
// types) -> LayerNorm 1e-12; post-LN layers x = LN(x + attn(x)); x = LN(x + lin2(gelu(lin1(x)))).
import * as tf from '@tensorflow/tfjs'
import type {TextEncoderConfig} from './config.js'
import type {EncoderInputs, EncoderOutputs} from './bert.js'
import {activation, additiveMask, attend, layerNorm, linear, param, type Weights} from './layers.js'

export function distilbertForward(c: TextEncoderConfig, w: Weights, inputs: EncoderInputs): EncoderOutputs {
  const lastHiddenState = tf.tidy(() => {
    const l = inputs.inputIds.shape[1]
    const embedded = tf
      .gather(param(w, 'embeddings.word_embeddings.weight'), inputs.inputIds.toInt())
      .add(tf.gather(param(w, 'embeddings.position_embeddings.weight'), tf.range(0, l, 1, 'int32')).expandDims(0))
    let x = layerNorm(w, 'embeddings.LayerNorm', embedded, c.layerNormEps)
    const mask = additiveMask(inputs.attentionMask)
    for (let i = 0; i < c.layers; i++) {
      const p = `transformer.layer.${i}`
      const input = x
      // one tidy per layer, as in bert.ts: the outer one would keep every layer's intermediates
      x = tf.tidy(() => {
        const {context} = attend(
          linear(w, `${p}.attention.q_lin`, input),
          linear(w, `${p}.attention.k_lin`, input),
          linear(w, `${p}.attention.v_lin`, input),
          c.heads,
          mask
        )
        const sa = layerNorm(
          w,
          `${p}.sa_layer_norm`,
          linear(w, `${p}.attention.out_lin`, context).add(input),
          c.layerNormEps
        )
        const ffn = linear(w, `${p}.ffn.lin2`, activation(c.activation, linear(w, `${p}.ffn.lin1`, sa)))
        return layerNorm(w, `${p}.output_layer_norm`, ffn.add(sa), c.layerNormEps)
      })
    }
    return x as tf.Tensor3D
  })
  return {lastHiddenState, poolerOutput: null}
}
