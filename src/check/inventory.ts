// What a weights folder holds, read from file headers only (nothing is loaded): the model kind
// from config.json, the weight files (one file or shards named by an index), and the parameter
// count per stored dtype. Used by `medgen check-weights` before it loads anything.
import {promises as fs} from 'node:fs'
import {basename, join} from 'node:path'
import {UserError, describeFsError} from '../errors.js'
import {readSafetensorsHeader} from '../io/safetensors.js'
import {readTorchTensorInfo} from '../io/torch.js'
import {numel, type DType} from '../io/tensor-map.js'
import {readJsonConfig, readShardIndex, resolveWeightsFile} from '../io/weights.js'

export type ModelKind = 'pixart' | 'vae' | 'bert' | 'distilbert'

export interface WeightsInventory {
  folder: string
  kind: ModelKind
  config: Record<string, unknown>
  /** 'single' file or 'sharded' (an index plus shards) */
  layout: 'single' | 'sharded'
  files: Array<{name: string; bytes: number}>
  fileBytes: number
  tensors: number
  parameters: number
  /** parameters stored in each dtype (F16, BF16, F32, ...) */
  dtypes: Partial<Record<DType, number>>
}

/** The model kind a folder's config.json describes (diffusers _class_name or transformers model_type). */
export function modelKindOf(config: Record<string, unknown>, source: string): ModelKind {
  const cls = String(config._class_name ?? '')
  const type = String(config.model_type ?? '')
  if (/Transformer2DModel$/.test(cls) || 'caption_channels' in config) return 'pixart'
  if (cls === 'AutoencoderKL' || 'latent_channels' in config) return 'vae'
  if (type === 'bert' || type === 'distilbert') return type
  throw new UserError(
    `${source}: cannot tell the model kind (_class_name "${cls}", model_type "${type}"); expected a PixArt transformer/, an AutoencoderKL vae/ or a BERT/DistilBERT folder`
  )
}

type TensorInfo = Map<string, {dtype: DType; shape: number[]}>

async function tensorInfo(path: string): Promise<TensorInfo> {
  if (path.endsWith('.safetensors')) {
    const header = await readSafetensorsHeader(path)
    return new Map([...header.entries].map(([k, e]) => [k, {dtype: e.dtype, shape: e.shape}]))
  }
  return readTorchTensorInfo(path)
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await fs.stat(path)).size
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
}

export async function inventoryOf(folder: string): Promise<WeightsInventory> {
  const config = await readJsonConfig(folder)
  const kind = modelKindOf(config, join(folder, 'config.json'))
  const weightsFile = await resolveWeightsFile(folder, `a ${kind} model`)
  let shardPaths = [weightsFile]
  const files: Array<{name: string; bytes: number}> = []
  if (weightsFile.endsWith('.index.json')) {
    files.push({name: basename(weightsFile), bytes: await fileSize(weightsFile)})
    // validated, and every shard inside the folder (issue 23): the one shard-index reader
    shardPaths = [...new Set((await readShardIndex(weightsFile)).values())].sort()
  }
  const dtypes: Partial<Record<DType, number>> = {}
  let tensors = 0
  let parameters = 0
  for (const path of shardPaths) {
    files.push({name: basename(path), bytes: await fileSize(path)})
    for (const {dtype, shape} of (await tensorInfo(path)).values()) {
      const n = numel(shape)
      dtypes[dtype] = (dtypes[dtype] ?? 0) + n
      tensors++
      parameters += n
    }
  }
  return {
    folder,
    kind,
    config,
    layout: weightsFile.endsWith('.index.json') ? 'sharded' : 'single',
    files,
    fileBytes: files.reduce((a, f) => a + f.bytes, 0),
    tensors,
    parameters,
    dtypes
  }
}

/** The dtype holding most parameters, e.g. "F16" (what a user would call the checkpoint's dtype). */
export function mainDtype(inv: WeightsInventory): string {
  const entries = Object.entries(inv.dtypes).sort((a, b) => b[1] - a[1])
  return entries.length ? entries[0][0] : 'none'
}
