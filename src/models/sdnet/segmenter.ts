// The trained segmentation path (anatomy encoder -> segmentor, eval mode) as a standalone
// tool: eval uses it to segment generated images for the controllability metrics (issue 5 item 5).
import {promises as fs} from 'node:fs'
import {extname, join} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {readSafetensors, readSafetensorsMetadata} from '../../io/safetensors.js'
import {imageExtensions, readRgb8} from '../../io/images.js'
import {minMaxNormalize} from './normalize.js'
import {sdnetConfig, type SdnetConfig} from './config.js'
import {SDNet} from './model.js'

export interface SegmentedImage {
  file: string
  width: number
  height: number
  /** 0/1 per pixel, width*height */ mask: Uint8Array
}

export interface Segmenter {
  config: SdnetConfig
  /** RGB 0..255 interleaved of any size; returns the lesion mask (0/1) at the same size */
  segmentRgb(rgb: Uint8Array, width: number, height: number): Promise<Uint8Array>
  /** every image of a folder (sorted by name), masks at each image's own size */
  segmentFolder(dir: string): Promise<SegmentedImage[]>
  dispose(): void
}

/** Loads a model.safetensors written by train-visual into an eval-mode segmenter. */
export async function loadSegmenter(path: string): Promise<Segmenter> {
  try {
    await fs.access(path)
  } catch {
    throw new UserError(`${path}: missing; run \`medgen train-visual\` first`)
  }
  const meta = await readSafetensorsMetadata(path)
  let saved: SdnetConfig
  try {
    saved = JSON.parse(meta.config ?? '')
  } catch {
    throw new UserError(`${path}: no SDNet config in the safetensors metadata (not written by medgen train-visual?)`)
  }
  const config = sdnetConfig(saved)
  const model = SDNet.create(config, 0)
  model.loadStateDict(await readSafetensors(path), path)
  const size = config.imageSize

  /** [B, size, size, 3] normalised -> lesion masks [B, size, size] as 0/1 floats */
  const predict = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      const ctx = model.context(false)
      return model.segment(ctx, model.anatomy(ctx, x)).slice([0, 0, 0, 1], [-1, -1, -1, 1])
    })

  const toOriginal = async (lesion: tf.Tensor4D, width: number, height: number): Promise<Uint8Array> => {
    const resized = tf.tidy(() =>
      (width === size && height === size ? lesion : tf.image.resizeBilinear(lesion, [height, width])).greater(0.5)
    )
    const out = new Uint8Array((await resized.data()) as Uint8Array)
    resized.dispose()
    return out
  }

  const segmentRgb = async (rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> => {
    if (rgb.length !== width * height * 3)
      throw new UserError(`segmenter: ${rgb.length} values do not make a ${width}x${height} RGB image`)
    const norm = new Float32Array(rgb.length)
    minMaxNormalize(rgb, norm)
    const lesion = tf.tidy(() => {
      const img = tf.tensor4d(norm, [1, height, width, 3])
      return predict(width === size && height === size ? img : tf.image.resizeBilinear(img, [size, size]))
    })
    const mask = await toOriginal(lesion, width, height)
    lesion.dispose()
    return mask
  }

  return {
    config,
    segmentRgb,
    async segmentFolder(dir) {
      let names: string[]
      try {
        names = (await fs.readdir(dir)).filter(n => imageExtensions.has(extname(n).toLowerCase())).sort()
      } catch {
        throw new UserError(`${dir}: not a readable folder of images`)
      }
      const out: SegmentedImage[] = []
      for (const name of names) {
        const file = join(dir, name)
        const full = await readRgb8(file)
        out.push({
          file,
          width: full.width,
          height: full.height,
          mask: await segmentRgb(full.data, full.width, full.height)
        })
      }
      return out
    },
    dispose() {
      model.dispose()
    }
  }
}
