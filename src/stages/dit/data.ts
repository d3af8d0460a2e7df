// finetune-dit's inputs (DEVELOPING.md contracts): the training split of captions/captions.jsonl,
// the per-caption anatomy/style text features of align-text (text/features.safetensors; the
// authors train the DiT on the *text* features, docs/REFERENCE.md §5.4), the images (resized on the
// shorter side and centre-cropped with a margin for the random crop), and for the concat/text
// ablations the text encoder's embeddings. In latent space the training images are encoded
// once by the VAE and cached under <run>/cache/latents/.
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {UserError} from '../../errors.js'
import {readRgb8} from '../../io/images.js'
import {pathExists, sha256} from '../../io/atomic.js'
import {readCaptionLines} from '../../caption/records.js'
import {readSafetensors, readSafetensorsMetadata, writeSafetensors} from '../../io/safetensors.js'
import {readVisualFeatures} from '../align-text/data.js'
import {vaeEncode, type VaeConfig} from '../../models/vae/autoencoder.js'
import type {MedgenConfig} from '../../config/schema.js'
import {log} from '../../util/log.js'
import {progress} from '../../util/progress.js'
import {centrePixels, type DitExample, type DitTrainingSet, type PixelNormalization} from './batch.js'
import type {DitModelSpec} from './model.js'
import {datasetPathOf, runLayout} from '../../run/layout.js'

interface CaptionLine {
  id: string
  file: string
  class: string
  split: string
  caption: string
}

/** Reads one image, shorter side resized to `size`, centre crop, RGB in [-1, 1] (Normalize(0.5, 0.5)). */
export async function readImageSquare(path: string, size: number): Promise<Float32Array> {
  const raw = (await readRgb8(path, {size, fit: 'cover', kernel: 'lanczos3', alpha: 'drop'})).data
  const out = new Float32Array(size * size * 3)
  for (let i = 0; i < out.length; i++) out[i] = raw[i] / 127.5 - 1
  return out
}

const MAX_TEXT_TOKENS = 77

async function readCaptionRows(runDir: string): Promise<CaptionLine[]> {
  const path = runLayout(runDir).captions.jsonl
  return (await readCaptionLines(path)).map((r, i) => {
    if (r.file === undefined || r.class === undefined)
      throw new UserError(`${path}: caption ${r.id} (record ${i + 1}) has no file or class`)
    return {id: r.id, file: r.file, class: r.class, split: r.split ?? 'train', caption: r.caption}
  })
}

/** The training split, each image once (a caption file may hold several captions per image). */
function trainingRows(rows: CaptionLine[]): CaptionLine[] {
  const seen = new Set<string>()
  return rows.filter(r => {
    if (seen.has(r.id) || r.split !== 'train') return false
    seen.add(r.id)
    return true
  })
}

/** The training-split caption rows of a run, each image once (the demo VAE trains on their images). */
export async function readTrainingRows(runDir: string): Promise<CaptionLine[]> {
  return trainingRows(await readCaptionRows(runDir))
}

/** A VAE to encode with; weightsKey tells apart weights retrained in the same folder (dit.vae.train). */
export interface LatentVae {
  config: VaeConfig
  params: Map<string, tf.Tensor>
  folder: string
  weightsKey?: string
}

export interface LoadedTrainingSet {
  set: DitTrainingSet
  textEncoder: string | null
  pixelNormalization: PixelNormalization | null
}

export async function loadDitTrainingSet(
  config: MedgenConfig,
  runDir: string,
  spec: DitModelSpec,
  vae: LatentVae | null
): Promise<LoadedTrainingSet> {
  const captionsPath = runLayout(runDir).captions.jsonl
  const rows = await readCaptionRows(runDir)
  const features = await readVisualFeatures(runLayout(runDir).text.features)
  const featureIndex = new Map(features.ids.map((id, i) => [id, i]))
  const classNames = [...new Set(rows.map(r => String(r.class)))].sort()
  const train = trainingRows(rows).filter(r => featureIndex.has(r.id))
  if (train.length === 0)
    throw new UserError(
      `${captionsPath}: no training-split caption has text features in text/features.safetensors; run \`medgen align-text\``
    )
  const {anatomyDim, styleDim} = features
  const p = spec.transformer
  const datasetPath = datasetPathOf(config)
  const examples: DitExample[] = train.map(r => {
    const i = featureIndex.get(r.id)!
    return {
      id: r.id,
      classIndex: classNames.indexOf(String(r.class)),
      anatomy: features.anatomy.slice(i * anatomyDim, (i + 1) * anatomyDim),
      style: features.style.slice(i * styleDim, (i + 1) * styleDim)
    }
  })

  let samples: Float32Array[]
  let storedShape: [number, number, number]
  let modelShape: [number, number, number]
  let pixelNormalization: PixelNormalization | null = null
  if (spec.space === 'pixel') {
    // A 1/8 margin around the model size leaves room for the random crop (docs/REFERENCE.md §5.4).
    const stored = Math.round((p.sample_size * 9) / 8)
    const bar = progress('finetune-dit: images', train.length)
    samples = []
    for (const r of train) {
      samples.push(await readImageSquare(join(datasetPath, r.file), stored))
      bar.tick()
    }
    bar.stop()
    pixelNormalization = centrePixels(samples, 3)
    storedShape = [stored, stored, 3]
    modelShape = [p.sample_size, p.sample_size, p.in_channels]
  } else {
    const down = 2 ** (vae!.config.block_out_channels.length - 1)
    const px = p.sample_size * down
    samples = await cachedLatents(
      runDir,
      vae!,
      train.map(r => ({id: r.id, path: join(datasetPath, r.file)})),
      px
    )
    storedShape = [p.sample_size, p.sample_size, 2 * vae!.config.latent_channels]
    modelShape = [p.sample_size, p.sample_size, p.in_channels]
  }

  let textDim = 0
  let textLength = 0
  let textEncoder: string | null = null
  const mode = spec.conditioner.mode
  if (mode === 'concat' || mode === 'text') {
    const modelPath = runLayout(runDir).text.model
    textEncoder = (await readSafetensorsMetadata(modelPath)).encoder ?? null
    if (!textEncoder) throw new UserError(`${modelPath}: __metadata__.encoder is missing; rerun \`medgen align-text\``)
    const enc = await encodeTexts(
      textEncoder,
      train.map(r => r.caption)
    )
    textDim = enc.dim
    textLength = enc.length
    examples.forEach((e, i) => {
      e.textPooled = enc.pooled.slice(i * enc.dim, (i + 1) * enc.dim)
      e.textTokens = enc.tokens.slice(i * enc.length * enc.dim, (i + 1) * enc.length * enc.dim)
      e.textMask = enc.mask.slice(i * enc.length, (i + 1) * enc.length)
    })
  }
  const set: DitTrainingSet = {
    space: spec.space,
    samples,
    storedShape,
    modelShape,
    latentScale: spec.latentScale,
    examples,
    anatomyDim,
    styleDim,
    textDim,
    textLength,
    classNames
  }
  return {set, textEncoder, pixelNormalization}
}

/** Encodes captions with the align-text encoder: pooled [N,E], tokens [N,L,E] padded to one length L, mask [N,L]. */
export async function encodeTexts(
  description: string,
  texts: string[]
): Promise<{pooled: Float32Array; tokens: Float32Array; mask: Float32Array; dim: number; length: number}> {
  const {createEncoderFromDescription} = await import('../../text/encoder.js')
  const encoder = await createEncoderFromDescription(JSON.parse(description))
  try {
    const chunks: Array<{tokens: Float32Array; mask: Float32Array; pooled: Float32Array; n: number; l: number}> = []
    for (let s = 0; s < texts.length; s += 32) {
      const e = await encoder.encode(texts.slice(s, s + 32))
      const [n, l] = e.mask.shape
      chunks.push({
        tokens: (await e.tokens.data()) as Float32Array,
        mask: (await e.mask.data()) as Float32Array,
        pooled: (await e.pooled.data()) as Float32Array,
        n,
        l
      })
      tf.dispose([e.tokens, e.mask, e.pooled])
    }
    const dim = encoder.hidden
    const length = Math.max(2, Math.min(MAX_TEXT_TOKENS, Math.max(...chunks.map(c => c.l))))
    const pooled = new Float32Array(texts.length * dim)
    const tokens = new Float32Array(texts.length * length * dim)
    const mask = new Float32Array(texts.length * length)
    let row = 0
    for (const c of chunks) {
      pooled.set(c.pooled, row * dim)
      for (let i = 0; i < c.n; i++, row++) {
        const keep = Math.min(c.l, length)
        tokens.set(c.tokens.subarray(i * c.l * dim, (i * c.l + keep) * dim), row * length * dim)
        mask.set(c.mask.subarray(i * c.l, i * c.l + keep), row * length)
      }
    }
    return {pooled, tokens, mask, dim, length}
  } finally {
    encoder.dispose()
  }
}

/** VAE posterior moments [h,w,2C] of every training image, encoded once and cached by (vae, size, images). */
async function cachedLatents(
  runDir: string,
  vae: LatentVae,
  items: Array<{id: string; path: string}>,
  px: number
): Promise<Float32Array[]> {
  const key = sha256(JSON.stringify({vae: vae.folder, weights: vae.weightsKey, config: vae.config, px, items})).slice(
    0,
    16
  )
  const file = join(runLayout(runDir).cache.latents, `${key}.safetensors`)
  if (await pathExists(file)) {
    const cached = await readSafetensors(file)
    const m = cached.get('moments')
    if (m && m.shape[0] === items.length) {
      const per = m.shape[1] * m.shape[2] * m.shape[3]
      log.info(`finetune-dit: ${items.length} cached latents from ${file}`)
      return items.map((_, i) => (m.data as Float32Array).slice(i * per, (i + 1) * per))
    }
  }
  const out: Float32Array[] = []
  const bar = progress('finetune-dit: encoding latents', items.length)
  let shape: number[] = []
  for (const item of items) {
    const img = await readImageSquare(item.path, px)
    const moments = tf.tidy(() => {
      const post = vaeEncode({params: vae.params}, vae.config, tf.tensor4d(img, [1, px, px, 3]))
      return tf.concat([post.mean, post.logvar], 3)
    })
    shape = moments.shape.slice(1)
    out.push(new Float32Array((await moments.data()) as Float32Array))
    moments.dispose()
    bar.tick()
  }
  bar.stop()
  const all = new Float32Array(out.reduce((a, b) => a + b.length, 0))
  out.forEach((o, i) => all.set(o, i * o.length))
  await writeSafetensors(
    file,
    {moments: {dtype: 'F32', shape: [items.length, ...shape], data: all}},
    {ids: JSON.stringify(items.map(i => i.id))}
  )
  return out
}
