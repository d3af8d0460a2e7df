// A tiny synthetic DiT training set built in memory: per class a coloured disc on a skin-like
// background, features that correlate with the class, random text embeddings. Small enough for
// tests (16x16 pixels, a 2-layer transformer; patch 2 so the 12 values of a patch fit the 16-wide
// tokens: with patch 4 (48 values) the model could not pass the noise through and plateaus at ~0.7).
import type {DitTrainingSet} from '../../src/stages/dit/batch.js'
import type {DitModelSpec} from '../../src/stages/dit/model.js'
import type {ConditioningMode} from '../../src/models/hffm.js'
import {Rng} from '../../src/util/rng.js'

/** anatomyDim 8 = the authors' occupancy width; 24 = visual.anatomyVector occupancy+shape. */
export function syntheticSet(
  n = 12,
  size = 18,
  model = 16,
  textDim = 12,
  textLength = 4,
  anatomyDim = 8
): DitTrainingSet {
  const rng = new Rng(7)
  const colours = [
    [0.8, -0.6, -0.6],
    [-0.6, -0.2, 0.7],
    [0.1, 0.6, -0.5]
  ]
  const samples: Float32Array[] = []
  const examples: DitTrainingSet['examples'] = []
  for (let i = 0; i < n; i++) {
    const cls = i % colours.length
    const img = new Float32Array(size * size * 3)
    const r = 3 + rng.int(4)
    const cy = size / 2 + rng.range(-2, 2)
    const cx = size / 2 + rng.range(-2, 2)
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = (y - cy) ** 2 + (x - cx) ** 2 < r * r
        for (let k = 0; k < 3; k++) img[(y * size + x) * 3 + k] = inside ? colours[cls][k] : [0.6, 0.3, 0.2][k]
      }
    }
    samples.push(img)
    const anatomy = new Float32Array(anatomyDim)
    anatomy[0] = r / 6
    anatomy[1] = 1 - r / 6
    const style = new Float32Array(8)
    style[cls] = 1
    style[7] = rng.normal() * 0.1
    examples.push({
      id: `img${i}`,
      classIndex: cls,
      anatomy,
      style,
      textPooled: rng.normalArray(textDim),
      textTokens: rng.normalArray(textLength * textDim),
      textMask: Float32Array.from([1, 1, 1, i % 2])
    })
  }
  return {
    space: 'pixel',
    samples,
    storedShape: [size, size, 3],
    modelShape: [model, model, 3],
    latentScale: 1,
    examples,
    anatomyDim,
    styleDim: 8,
    textDim,
    textLength,
    classNames: ['a', 'b', 'c']
  }
}

export function tinySpec(mode: ConditioningMode = 'hffm', textDim = 12, anatomyDim = 8): DitModelSpec {
  return {
    transformer: {
      num_layers: 2,
      num_attention_heads: 2,
      attention_head_dim: 8,
      in_channels: 3,
      out_channels: 6,
      patch_size: 2,
      sample_size: 16,
      cross_attention_dim: 16,
      caption_channels: 16,
      norm_eps: 1e-6
    },
    conditioner: {mode, captionChannels: 16, anatomyDim, styleDim: 8, hidden: 32, textDim, numClasses: 3},
    space: 'pixel',
    latentScale: 1,
    lora: {
      rank: 2,
      alpha: 2,
      targets: [
        'to_k',
        'to_q',
        'to_v',
        'to_out.0',
        'ff.net.0.proj',
        'ff.net.2',
        'proj',
        'linear_1',
        'linear_2',
        'linear',
        'proj_out'
      ]
    }
  }
}
