// Loading a PixArt transformer from a diffusers `transformer/` folder (config.json +
// diffusion_pytorch_model[.-NNNNN-of-NNNNN].safetensors) or a golden fixture folder. Shapes are
// checked against the config (the seeded init for training from scratch is in ./transformer.ts).
import * as tf from '@tensorflow/tfjs'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {UserError, describeFsError} from '../../errors.js'
import {forEachSafetensor} from '../../io/safetensors.js'
import {readShardIndex} from '../../io/weights.js'
import type {HostTensor, TensorMap} from '../../io/tensor-map.js'
import {kindOf, torchToTf} from '../params.js'
import {parsePixArtConfig, type PixArtConfig} from './config.js'
import {pixartParamShapes} from './transformer.js'

const WEIGHT_FILES = ['diffusion_pytorch_model.safetensors', 'model.safetensors', 'weights.safetensors']

/** Reads config.json of a diffusers-style folder. */
export async function readJsonFile(path: string): Promise<Record<string, any>> {
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new UserError(`${path}: not valid JSON`)
  }
}

/** The weight files of a diffusers folder, in reading order: the single file, the fixture's weights.safetensors, or the shards of the index. */
async function diffusersWeightFiles(folder: string): Promise<string[]> {
  for (const name of WEIGHT_FILES) {
    const p = join(folder, name)
    try {
      await fs.access(p)
    } catch {
      continue
    }
    return [p]
  }
  const index = join(folder, 'diffusion_pytorch_model.safetensors.index.json')
  try {
    await fs.access(index)
  } catch {
    throw new UserError(
      `${folder}: no ${WEIGHT_FILES.join(' / ')} (or sharded index) found; .bin checkpoints must be converted to safetensors`
    )
  }
  return [...new Set((await readShardIndex(index)).values())]
}

/** Each tensor of a diffusers folder, one at a time (see forEachSafetensor): loaders convert and drop them as they come. */
export async function forEachDiffusersTensor(
  folder: string,
  each: (name: string, tensor: HostTensor) => void | Promise<void>,
  filter?: (name: string) => boolean
): Promise<void> {
  for (const file of await diffusersWeightFiles(folder)) await forEachSafetensor(file, each, filter)
}

/** The state_dict of a diffusers folder: single file, a sharded index, or the fixture's weights.safetensors. */
export async function readDiffusersStateDict(folder: string, filter?: (name: string) => boolean): Promise<TensorMap> {
  const out: TensorMap = new Map()
  await forEachDiffusersTensor(
    folder,
    (name, t) => {
      out.set(name, t)
    },
    filter
  )
  return out
}

/**
 * Checks PixArt tensors (PyTorch layout) against the config as they arrive and converts each to
 * tfjs layout at once; `finish` reports missing and unexpected ones. On any error the converted
 * tensors are disposed.
 */
class PixArtParamCollector {
  readonly params = new Map<string, tf.Tensor>()
  private readonly shapes: Map<string, number[]>
  private readonly extra: string[] = []
  constructor(
    cfg: PixArtConfig,
    private readonly source: string
  ) {
    this.shapes = pixartParamShapes(cfg)
  }

  accept(name: string, t: HostTensor): void {
    const shape = this.shapes.get(name)
    if (!shape) {
      if (name !== 'pos_embed.pos_embed') this.extra.push(name)
      return
    }
    if (t.shape.join(',') !== shape.join(','))
      throw new UserError(`${this.source}: tensor ${name} has shape [${t.shape}], config expects [${shape}]`)
    this.params.get(name)?.dispose() // a name twice (in two shards): the last one wins, as in a state_dict
    this.params.set(name, torchToTf(t, kindOf(t.shape, name)))
  }

  finish(): Map<string, tf.Tensor> {
    for (const name of this.shapes.keys())
      if (!this.params.has(name)) throw new UserError(`${this.source}: missing tensor ${name}`)
    if (this.extra.length)
      throw new UserError(
        `${this.source}: unexpected tensors for this config, e.g. ${this.extra.slice(0, 3).join(', ')}`
      )
    return this.params
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose()
  }
}

/**
 * Loads a transformer folder: {config, params} (frozen tensors in tfjs layout). Tensors go to the
 * backend as they are read, so the host never holds the whole state_dict (PixArt-XL-2: 2.4 GB as
 * float32, which on top of the backend's copy put the load's peak RSS at 6.9 GB; test:scale).
 */
export async function loadPixArt(folder: string): Promise<{config: PixArtConfig; params: Map<string, tf.Tensor>}> {
  const config = parsePixArtConfig(await readJsonFile(join(folder, 'config.json')), join(folder, 'config.json'))
  const collector = new PixArtParamCollector(config, folder)
  try {
    await forEachDiffusersTensor(folder, (name, t) => collector.accept(name, t))
    return {config, params: collector.finish()}
  } catch (err) {
    collector.dispose()
    throw err
  }
}
