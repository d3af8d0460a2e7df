// Loads pretrained weights from a local Hugging Face / diffusers folder or a single file
// (docs/DESIGN.md "Weights"): safetensors (single or sharded via *.safetensors.index.json) or
// torch.save checkpoints (.bin/.pth/.pt/.ckpt, single or sharded). Names are normalised the way
// transformers' loader does: a base-model prefix can be stripped (`bert.`, `distilbert.`) and
// TF-era `LayerNorm.gamma/beta` become `LayerNorm.weight/bias` (docs/REFERENCE.md / golden
// bert-tiny config "key_prefix").
import {promises as fs} from 'node:fs'
import {join, basename, dirname} from 'node:path'
import {UserError, describeFsError} from '../errors.js'
import {readSafetensors} from './safetensors.js'
import {readTorchCheckpoint} from './torch.js'
import type {TensorMap} from './tensor-map.js'
import {insideRoot} from './paths.js'
import {parseUserJson, validateUserData, z} from './validate.js'

export interface LoadStateDictOptions {
  /** The first of these prefixes a name starts with is removed (`['bert.', 'distilbert.']`). */
  stripPrefixes?: string[]
  /** Keep only names (after renaming) for which this returns true; others are never read. */
  include?: (name: string) => boolean
  /** Drop names (after renaming) matching any of these, e.g. [/^cls\./, /position_ids$/]. */
  exclude?: RegExp[]
  /** Rename TF-era LayerNorm.gamma/beta to weight/bias (default true). */
  legacyLayerNormNames?: boolean
  /** What the caller wanted, for error messages ("a BERT checkpoint"). */
  expected?: string
}

/** Preferred file names in a model folder, most specific first (transformers/diffusers order). */
const FOLDER_CANDIDATES = [
  'model.safetensors',
  'diffusion_pytorch_model.safetensors',
  'model.safetensors.index.json',
  'diffusion_pytorch_model.safetensors.index.json',
  'pytorch_model.bin',
  'diffusion_pytorch_model.bin',
  'pytorch_model.bin.index.json',
  'diffusion_pytorch_model.bin.index.json'
]
const TORCH_EXTENSIONS = ['.bin', '.pth', '.pt', '.ckpt']
const isTorchFile = (name: string) => TORCH_EXTENSIONS.some(ext => name.endsWith(ext))

async function statOrThrow(path: string) {
  try {
    return await fs.stat(path)
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
}

/** The weights file (or shard index) a path designates; a folder is searched as transformers does. */
export async function resolveWeightsFile(pathOrFolder: string, expected = 'model weights'): Promise<string> {
  const st = await statOrThrow(pathOrFolder)
  if (!st.isDirectory()) return pathOrFolder
  const names = await fs.readdir(pathOrFolder)
  for (const candidate of FOLDER_CANDIDATES) if (names.includes(candidate)) return join(pathOrFolder, candidate)
  const loose = names
    .filter(n => n.endsWith('.safetensors') || n.endsWith('.safetensors.index.json') || isTorchFile(n))
    .sort()
  if (loose.length === 1) return join(pathOrFolder, loose[0])
  if (loose.length > 1)
    throw new UserError(`${pathOrFolder}: several weight files (${loose.join(', ')}); name one of them for ${expected}`)
  throw new UserError(
    `${pathOrFolder}: no weights found for ${expected} (expected model.safetensors, diffusion_pytorch_model.safetensors, a *.safetensors.index.json, pytorch_model.bin or a .pth/.pt file)`
  )
}

function renamer(opts: LoadStateDictOptions): (name: string) => string {
  const prefixes = opts.stripPrefixes ?? []
  const legacy = opts.legacyLayerNormNames ?? true
  return name => {
    let out = name
    const prefix = prefixes.find(p => out.startsWith(p))
    if (prefix) out = out.slice(prefix.length)
    if (legacy) out = out.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias')
    return out
  }
}

async function readOneFile(path: string, filter: (name: string) => boolean): Promise<TensorMap> {
  if (path.endsWith('.safetensors')) return readSafetensors(path, filter)
  if (isTorchFile(path)) return readTorchCheckpoint(path, filter)
  throw new UserError(`${path}: unknown weights format (expected .safetensors, .bin, .pth, .pt or .ckpt)`)
}

/** model.safetensors.index.json: `weight_map` maps each tensor name to its shard's file name. */
const shardIndexSchema = z.looseObject({weight_map: z.record(z.string(), z.string().min(1))})

/**
 * A sharded checkpoint's index (`*.index.json`): tensor name -> absolute shard path. The
 * index is validated, and shard names come from the file, so they may not lead out of the model
 * folder (issue 23, class 3). Every reader of a sharded checkpoint goes through here.
 */
export async function readShardIndex(indexPath: string): Promise<Map<string, string>> {
  let text: string
  try {
    text = await fs.readFile(indexPath, 'utf8')
  } catch (err) {
    throw describeFsError(err, indexPath) ?? err
  }
  const index = validateUserData(
    shardIndexSchema,
    parseUserJson(text, {file: indexPath}, 'shard index'),
    {file: indexPath},
    'shard index'
  )
  const out = new Map<string, string>()
  for (const [name, file] of Object.entries(index.weight_map))
    out.set(name, insideRoot(dirname(indexPath), file, `${indexPath}: weight_map shard`))
  return out
}

/** Shards named by an index's weight_map, each read once with only the names it holds. */
async function readSharded(indexPath: string, filter: (name: string) => boolean): Promise<TensorMap> {
  const index = await readShardIndex(indexPath)
  const shards = new Map<string, Set<string>>()
  for (const [name, file] of index) {
    if (!filter(name)) continue
    if (!shards.has(file)) shards.set(file, new Set())
    shards.get(file)!.add(name)
  }
  const out: TensorMap = new Map()
  for (const [shardPath, wanted] of shards) {
    const part = await readOneFile(shardPath, name => wanted.has(name))
    for (const name of wanted) {
      if (!part.has(name))
        throw new UserError(`${shardPath}: tensor ${name} listed in ${basename(indexPath)} is missing`)
      out.set(name, part.get(name)!)
    }
  }
  return out
}

/**
 * Reads a state_dict from a file or model folder, renamed and filtered per `opts`. Tensors that
 * the filters drop are not read from disk (a BERT pre-training checkpoint's heads, say).
 */
export async function loadStateDict(pathOrFolder: string, opts: LoadStateDictOptions = {}): Promise<TensorMap> {
  const expected = opts.expected ?? 'model weights'
  const file = await resolveWeightsFile(pathOrFolder, expected)
  const rename = renamer(opts)
  const keep = (name: string) => {
    const renamed = rename(name)
    if (opts.exclude?.some(re => re.test(renamed))) return false
    return opts.include ? opts.include(renamed) : true
  }
  const raw = file.endsWith('.index.json') ? await readSharded(file, keep) : await readOneFile(file, keep)
  const out: TensorMap = new Map()
  const origin = new Map<string, string>()
  for (const [name, tensor] of raw) {
    const renamed = rename(name)
    if (origin.has(renamed))
      throw new UserError(`${file}: tensors ${origin.get(renamed)} and ${name} both become ${renamed} after renaming`)
    origin.set(renamed, name)
    out.set(renamed, tensor)
  }
  if (out.size === 0) throw new UserError(`${file}: no tensors left for ${expected} after filtering (${raw.size} read)`)
  return out
}

/** config.json (or another JSON file) of a model folder; a path to a .json file is read as is. */
export async function readJsonConfig(folderOrFile: string, fileName = 'config.json'): Promise<Record<string, unknown>> {
  const st = await statOrThrow(folderOrFile)
  const path = st.isDirectory() ? join(folderOrFile, fileName) : folderOrFile
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new UserError(`${folderOrFile}: no ${fileName} (expected a Hugging Face / diffusers model folder)`)
    throw describeFsError(err, path) ?? err
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new UserError(`${path}: invalid JSON (${(err as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new UserError(`${path}: expected a JSON object`)
  return value as Record<string, unknown>
}
