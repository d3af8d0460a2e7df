// Loading a PixArt transformer from a diffusers `transformer/` folder (config.json +
// diffusion_pytorch_model[.-NNNNN-of-NNNNN].safetensors) or a golden fixture folder, and a
// seeded random init for training from scratch. Shapes are checked against the config.
import * as tf from '@tensorflow/tfjs'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {UserError, describeFsError} from '../../errors.js'
import {readSafetensors} from '../../io/safetensors.js'
import {readShardIndex} from '../../io/weights.js'
import type {TensorMap} from '../../io/tensor-map.js'
import {kindOf, torchToTf, trainableFromTorch, xavierUniformValues} from '../params.js'
import type {Rng} from '../../util/rng.js'
import {parsePixArtConfig, pixartParamShapes, type PixArtConfig} from './config.js'

const WEIGHT_FILES = ['diffusion_pytorch_model.safetensors', 'model.safetensors', 'weights.safetensors']

/** Reads config.json of a diffusers-style folder. */
export async function readJsonFile(path: string): Promise<Record<string, any>> {
  let text: string
  try { text = await fs.readFile(path, 'utf8') } catch (err) { throw describeFsError(err, path) ?? err }
  try { return JSON.parse(text) } catch { throw new UserError(`${path}: not valid JSON`) }
}

/** The state_dict of a diffusers folder: single file, a sharded index, or the fixture's weights.safetensors. */
export async function readDiffusersStateDict(folder: string, filter?: (name: string) => boolean): Promise<TensorMap> {
  for (const name of WEIGHT_FILES) {
    const p = join(folder, name)
    try { await fs.access(p) } catch { continue }
    return readSafetensors(p, filter)
  }
  const index = join(folder, 'diffusion_pytorch_model.safetensors.index.json')
  try { await fs.access(index) } catch {
    throw new UserError(`${folder}: no ${WEIGHT_FILES.join(' / ')} (or sharded index) found; .bin checkpoints must be converted to safetensors`)
  }
  const out: TensorMap = new Map()
  for (const shard of new Set((await readShardIndex(index)).values())) {
    for (const [k, v] of await readSafetensors(shard, filter)) out.set(k, v)
  }
  return out
}

/** Converts and checks a PixArt state_dict (PyTorch layout) against the config. */
export function pixartParamsFromStateDict(cfg: PixArtConfig, host: TensorMap, source: string): Map<string, tf.Tensor> {
  const shapes = pixartParamShapes(cfg)
  const params = new Map<string, tf.Tensor>()
  for (const [name, shape] of shapes) {
    const t = host.get(name)
    if (!t) throw new UserError(`${source}: missing tensor ${name}`)
    if (t.shape.join(',') !== shape.join(',')) throw new UserError(`${source}: tensor ${name} has shape [${t.shape}], config expects [${shape}]`)
    params.set(name, torchToTf(t, kindOf(t.shape, name)))
  }
  const extra = [...host.keys()].filter(k => !shapes.has(k) && k !== 'pos_embed.pos_embed')
  if (extra.length) throw new UserError(`${source}: unexpected tensors for this config, e.g. ${extra.slice(0, 3).join(', ')}`)
  return params
}

/** Loads a transformer folder: {config, params} (frozen tensors in tfjs layout). */
export async function loadPixArt(folder: string): Promise<{config: PixArtConfig, params: Map<string, tf.Tensor>}> {
  const config = parsePixArtConfig(await readJsonFile(join(folder, 'config.json')), join(folder, 'config.json'))
  const host = await readDiffusersStateDict(folder)
  return {config, params: pixartParamsFromStateDict(config, host, folder)}
}

/**
 * Seeded init for training from scratch, following DiT/PixArt's initialize_weights: Xavier-
 * uniform Linear weights, zero biases, patch conv Xavier on its flattened view, timestep MLP
 * N(0, 0.02^2), zero-initialised adaLN modulation outputs, output projection and gates, so
 * each block starts as the identity (DiT "adaLN-Zero"). Scale/shift tables start at N(0,1)/sqrt(D) as diffusers.
 */
export function initPixArtParams(cfg: PixArtConfig, rng: Rng): Map<string, tf.Variable> {
  const params = new Map<string, tf.Variable>()
  const d = cfg.num_attention_heads * cfg.attention_head_dim
  for (const [name, shape] of pixartParamShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1)
    let values: Float32Array
    if (name.endsWith('.bias')) values = new Float32Array(n)
    else if (name.endsWith('scale_shift_table')) values = rng.normalArray(n, 1 / Math.sqrt(d))
    else if (name.startsWith('adaln_single.emb.timestep_embedder') || name.startsWith('caption_projection')) values = rng.normalArray(n, 0.02)
    else if (name === 'proj_out.weight' || name === 'adaln_single.linear.weight') values = new Float32Array(n)
    else values = xavierUniformValues(n, n / shape[0], shape[0], rng)
    params.set(name, trainableFromTorch(name, shape, values))
  }
  return params
}
