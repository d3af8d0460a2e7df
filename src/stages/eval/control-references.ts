// The references control is read against (issue 19, docs/DESIGN.md "Metrics"): the real test images
// with their captions' attributes (ceiling.real) and the generator's decoder round trip of them
// (ceiling.decoded): a VAE encode (posterior mean) and decode at the generator's resolution for a
// latent DiT, a plain resize to it for a pixel-space one. Both bound what a generator that follows
// its prompt perfectly could score under the same segmenter and measurement.
import {join} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type {MedgenConfig} from '../../config/schema.js'
import {pathExists} from '../../io/atomic.js'
import {readCaptionLines} from '../../caption/records.js'
import {readJsonFile} from '../../models/pixart/load.js'
import {datasetPathOf, runLayout} from '../../run/layout.js'
import {loadVae} from '../../models/vae/load.js'
import {vaeDecode, vaeEncode} from '../../models/vae/autoencoder.js'
import type {Attributes} from '../../data/attributes.js'
import {ditVaeFolder, type DitMeta} from '../dit/artifacts.js'
import type {ControlImage} from './control.js'

/** Test-split caption rows that carry attributes (measured or synth captions), at most config.eval.controlReal. */
export async function realControlSet(
  config: MedgenConfig,
  runDir: string
): Promise<{paths: string[]; attributes: Attributes[]} | undefined> {
  const limit = config.eval.controlReal
  const captions = runLayout(runDir).captions.jsonl
  if (limit === 0 || !(await pathExists(captions))) return undefined
  const rows = await readCaptionLines(captions)
  const root = datasetPathOf(config)
  const seen = new Set<string>()
  const paths: string[] = [],
    attributes: Attributes[] = []
  for (const r of rows) {
    if (r.split !== 'test' || !r.file || !r.attributes || seen.has(r.id)) continue
    seen.add(r.id)
    paths.push(join(root, r.file))
    attributes.push(r.attributes)
    if (paths.length >= limit) break
  }
  return paths.length ? {paths, attributes} : undefined
}

export interface RoundTrip {
  /** side of the generator's images */
  size: number
  description: string
  apply(image: ControlImage): Promise<ControlImage>
  dispose(): void
}

/** The decoder of the run's trained DiT (dit/dit.json), or null when there is none. */
export async function decoderRoundTrip(config: MedgenConfig, runDir: string): Promise<RoundTrip | null> {
  const metaPath = runLayout(runDir).dit.meta
  if (!(await pathExists(metaPath))) return null
  const meta = (await readJsonFile(metaPath)) as DitMeta
  const latentSide = meta.transformer.sample_size
  if (meta.space !== 'latent') {
    return {
      size: latentSide,
      description: `pixel-space DiT: real images resized to ${latentSide} px`,
      apply: async img => img,
      dispose: () => {}
    }
  }
  const folder = ditVaeFolder(runDir, meta, config.weights.vae)
  if (!folder) return null
  const vae = await loadVae(folder)
  const size = latentSide * 2 ** (vae.config.block_out_channels.length - 1)
  return {
    size,
    description: `VAE ${meta.vaeTrained ? 'dit/' + meta.vae : folder}: encode (posterior mean) and decode at ${size} px`,
    async apply(img) {
      const out = tf.tidy(() => {
        const x = tf.tensor4d(img.data, [1, img.height, img.width, 3]).mul(2).sub(1) as tf.Tensor4D
        const mean = vaeEncode({params: vae.params}, vae.config, x).mean
        return tf.clipByValue(vaeDecode({params: vae.params}, vae.config, mean).add(1).div(2), 0, 1)
      })
      const data = new Float32Array((await out.data()) as Float32Array)
      const [, height, width] = out.shape
      out.dispose()
      return {data, width, height}
    },
    dispose: () => tf.dispose([...vae.params.values()])
  }
}
