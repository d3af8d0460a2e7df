// Inception pool3 features of an image folder, batched with a progress bar, cached by content:
// <run>/cache/fid/<sha256 of (weights sha256, resize mode, every image's bytes)>.safetensors,
// so the real set's features are computed once per weights and resize mode.
import {promises as fs} from 'node:fs'
import {createHash} from 'node:crypto'
import {join} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import {readSafetensors, writeSafetensors} from '../io/safetensors.js'
import {pathExists} from '../io/atomic.js'
import {progress} from '../util/progress.js'
import {inceptionForward, type InceptionWeights} from '../models/inception/inception.js'
import {preprocessForInception, type ResizeMode} from '../models/inception/preprocess.js'
import {asPytorchFid, readRgb8} from '../io/images.js'
import type {FeatureSet} from './frechet.js'

/** sha256 over the images' bytes in order, plus everything else that changes the features. */
export async function contentKey(files: string[], extra: string): Promise<string> {
  const h = createHash('sha256').update(extra)
  for (const f of files)
    h.update(
      createHash('sha256')
        .update(await fs.readFile(f))
        .digest()
    )
  return h.digest('hex')
}

export interface FeatureOptions {
  weights: InceptionWeights
  weightsSha256: string
  resize: ResizeMode
  batchSize?: number
  /** folder for cached features; none = no cache */
  cacheDir?: string
  label?: string
}

/** pool3 features [n,2048] of the given image files. */
export async function inceptionFeatures(
  files: string[],
  opts: FeatureOptions
): Promise<FeatureSet & {cached: boolean}> {
  const key = await contentKey(files, `inception-pool3|${opts.weightsSha256}|${opts.resize}`)
  const cachePath = opts.cacheDir ? join(opts.cacheDir, `${key}.safetensors`) : null
  if (cachePath && (await pathExists(cachePath))) {
    const t = (await readSafetensors(cachePath)).get('pool3')
    if (t && t.shape[0] === files.length)
      return {n: t.shape[0], d: t.shape[1], data: t.data as Float32Array, cached: true}
  }
  const batch = opts.batchSize ?? 8
  const out = new Float32Array(files.length * 2048)
  const bar = progress(`inception features${opts.label ? ' (' + opts.label + ')' : ''}`, files.length)
  for (let start = 0; start < files.length; start += batch) {
    const chunk = files.slice(start, start + batch)
    const images = await Promise.all(chunk.map(f => readRgb8(f, asPytorchFid)))
    // Images may differ in size: each is resized to 299 on its own, then batched.
    const x = tf.tidy(() =>
      tf.concat(
        images.map(img =>
          preprocessForInception(
            tf.tensor4d(
              Float32Array.from(img.data, v => v / 255),
              [1, img.height, img.width, 3]
            ),
            opts.resize
          )
        )
      )
    )
    const {pool3} = inceptionForward(x as tf.Tensor4D, opts.weights)
    out.set((await pool3.data()) as Float32Array, start * 2048)
    tf.dispose([x, pool3])
    bar.tick(chunk.length)
  }
  bar.stop()
  if (cachePath)
    await writeSafetensors(
      cachePath,
      {pool3: {dtype: 'F32', shape: [files.length, 2048], data: out}},
      {resize: opts.resize, weights_sha256: opts.weightsSha256}
    )
  return {n: files.length, d: 2048, data: out, cached: false}
}
