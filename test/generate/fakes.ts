// A fake trained DiT and text conditioner with the real interfaces (src/stages/generate/models.ts),
// for tests whose point is the sampler and the plumbing: the "denoiser" pulls samples towards a
// pattern set by the condition tokens, so different prompts and seeds give different images.
import * as tf from '@tensorflow/tfjs'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {hashString} from '../../src/util/rng.js'
import type {Condition} from '../../src/diffusion/sample.js'
import type {GenerateModels, TextConditioner, TrainedDit} from '../../src/stages/generate/models.js'

export interface FakeCalls {
  predictBatches: number[]
  firstTokens: number[][]
}

export function fakeDit(calls: FakeCalls = {predictBatches: [], firstTokens: []}, size = 8): TrainedDit {
  const dim = 4
  return {
    sampleShape: [size, size, 3],
    captionChannels: dim,
    predict(x: tf.Tensor4D, t: number | number[], cond: Condition): tf.Tensor4D {
      calls.predictBatches.push(x.shape[0])
      calls.firstTokens.push(Array.from(cond.tokens.slice([0, 0, 0], [1, 1, dim]).dataSync()))
      return tf.tidy(() => {
        const tt = typeof t === 'number' ? t : t[0]
        // per-image pattern from the first condition token, broadcast over H, W
        const pattern = tf.slice(cond.tokens, [0, 0, 0], [-1, 1, 3]).reshape([-1, 1, 1, 3])
        const eps = tf.add(tf.mul(tf.tanh(tf.sub(x, pattern)), tt / 1000), 0.01)
        return tf.concat([eps, tf.zerosLike(eps)], 3) as tf.Tensor4D // learned-sigma half
      })
    },
    nullCondition(n: number): Condition {
      return {tokens: tf.zeros([n, 2, dim]) as tf.Tensor3D, mask: tf.ones([n, 2]) as tf.Tensor2D}
    },
    conditionFromFeatures(anatomy: Float32Array, style: Float32Array, n: number): Condition {
      const tokens = new Float32Array(n * 2 * dim)
      for (let i = 0; i < n; i++) {
        for (let d = 0; d < dim; d++) {
          tokens[i * 2 * dim + d] = anatomy[i * 8 + d]
          tokens[i * 2 * dim + dim + d] = style[i * 8 + d]
        }
      }
      return {tokens: tf.tensor3d(tokens, [n, 2, dim]), mask: tf.ones([n, 2]) as tf.Tensor2D}
    },
    decode(x: tf.Tensor4D): tf.Tensor4D {
      return tf.tidy(() => tf.clipByValue(tf.div(tf.add(x, 1), 2), 0, 1) as tf.Tensor4D)
    },
    dispose() {}
  }
}

export const fakeText: TextConditioner = {
  async encodeTexts(texts: string[]) {
    const anatomy = new Float32Array(texts.length * 8)
    const style = new Float32Array(texts.length * 8)
    texts.forEach((text, i) => {
      for (let d = 0; d < 8; d++) {
        anatomy[i * 8 + d] = (hashString(`${text}|a${d}`) % 2000) / 1000 - 1
        style[i * 8 + d] = (hashString(`${text}|s${d}`) % 2000) / 1000 - 1
      }
    })
    return {anatomy, style}
  }
}

export function fakeModels(calls?: FakeCalls): () => Promise<GenerateModels> {
  return async () => ({dit: fakeDit(calls), text: fakeText})
}

/** A run directory with captions for two classes and placeholder text/dit artifacts. */
export function makeRun(dir: string, opts: {artifacts?: boolean} = {}): string {
  const rows = []
  for (const cls of ['mel', 'nv']) {
    for (let k = 0; k < 4; k++) {
      rows.push({
        id: `${cls}_${k}`,
        file: `${cls}/${cls}_${k}.jpg`,
        class: cls,
        split: k < 2 ? 'train' : 'test',
        attributes: null,
        anatomy: null,
        style: null,
        source: 'measured',
        caption: `A dermoscopic image of ${cls}. Anatomy: ${k % 2 ? 'round' : 'irregular'} lesion. Style: ${k < 2 ? 'dark brown' : 'reddish'}.`
      })
    }
  }
  mkdirSync(join(dir, 'captions'), {recursive: true})
  writeFileSync(join(dir, 'captions', 'captions.jsonl'), rows.map(r => JSON.stringify(r)).join('\n') + '\n')
  if (opts.artifacts !== false) {
    mkdirSync(join(dir, 'text'), {recursive: true})
    mkdirSync(join(dir, 'dit'), {recursive: true})
    writeFileSync(join(dir, 'text', 'model.safetensors'), 'placeholder')
    writeFileSync(join(dir, 'dit', 'hffm.safetensors'), 'placeholder')
    writeFileSync(join(dir, 'dit', 'dit.json'), '{}')
  }
  return dir
}
