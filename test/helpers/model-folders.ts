// Random weights written in the layouts the public repositories ship, at any size: a diffusers
// transformer/ or vae/ folder (config.json + one diffusion_pytorch_model.safetensors or shards +
// diffusion_pytorch_model.safetensors.index.json) and a Hugging Face BERT folder (config.json +
// pytorch_model.bin as BertForPreTraining saves it, or model.safetensors). Tensors are streamed
// to disk one at a time, so full-size checkpoints (PixArt-XL-2: 610M parameters) need no more
// memory than their largest tensor. Values are small (|w| < 0.035) so forwards stay finite.
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {toDiffusersConfig, type PixArtConfig} from '../../src/models/pixart/config.js'
import {pixartParamShapes} from '../../src/models/pixart/transformer.js'
import {vaeDiffusersConfig, vaeParamShapes} from '../../src/models/vae/init.js'
import type {VaeConfig} from '../../src/models/vae/autoencoder.js'
import {torchZip, type FakeStorage, type FakeTensor} from '../io/torch-writer.js'

export type StoredDtype = 'F32' | 'F16' | 'BF16'
const BYTES: Record<StoredDtype, number> = {F32: 4, F16: 2, BF16: 2}

/** float32 bits -> IEEE half bits (round to nearest; the values written here are far from the limits). */
function halfBits(u: number): number {
  const sign = (u >>> 16) & 0x8000
  const exp = ((u >>> 23) & 0xff) - 127 + 15
  const mant = u & 0x7fffff
  if (exp <= 0) return sign | (exp < -10 ? 0 : (mant | 0x800000) >> (1 - exp + 13))
  if (exp >= 31) return sign | 0x7c00
  return sign | (exp << 10) | ((mant + 0x1000) >> 13)
}

/** Cheap seeded values in (-0.035, 0.035): generating 610M normals would dominate a scale run. */
function randomValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n)
  let s = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < n; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 0.07
  }
  return out
}

function encode(values: Float32Array, dtype: StoredDtype): Buffer {
  if (dtype === 'F32') return Buffer.from(values.buffer, values.byteOffset, values.byteLength)
  const out = new Uint16Array(values.length)
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length)
  if (dtype === 'BF16') for (let i = 0; i < u.length; i++) out[i] = (u[i] + 0x8000) >>> 16
  else for (let i = 0; i < u.length; i++) out[i] = halfBits(u[i])
  return Buffer.from(out.buffer)
}

const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1)

/** One safetensors file, written tensor by tensor. */
async function writeStreamed(
  path: string,
  shapes: Array<[string, number[]]>,
  dtype: StoredDtype,
  seed: number
): Promise<void> {
  const header: Record<string, unknown> = {}
  let offset = 0
  for (const [name, shape] of shapes) {
    const bytes = numel(shape) * BYTES[dtype]
    header[name] = {dtype, shape, data_offsets: [offset, offset + bytes]}
    offset += bytes
  }
  header.__metadata__ = {format: 'pt'}
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)))
  const handle = await fs.open(path, 'w')
  try {
    await handle.write(Buffer.concat([len, Buffer.from(json)]))
    let i = 0
    for (const [, shape] of shapes) await handle.write(encode(randomValues(numel(shape), seed * 100003 + i++), dtype))
  } finally {
    await handle.close()
  }
}

/**
 * diffusion_pytorch_model.safetensors, or (maxShardBytes given) shards named as diffusers names
 * them plus the index with total_size and weight_map.
 */
export async function writeDiffusersWeights(
  dir: string,
  shapes: Map<string, number[]>,
  dtype: StoredDtype,
  maxShardBytes?: number,
  seed = 1
): Promise<string[]> {
  const entries = [...shapes.entries()]
  if (!maxShardBytes) {
    await writeStreamed(join(dir, 'diffusion_pytorch_model.safetensors'), entries, dtype, seed)
    return ['diffusion_pytorch_model.safetensors']
  }
  const shards: Array<Array<[string, number[]]>> = [[]]
  let size = 0
  for (const e of entries) {
    const bytes = numel(e[1]) * BYTES[dtype]
    if (size > 0 && size + bytes > maxShardBytes) {
      shards.push([])
      size = 0
    }
    shards.at(-1)!.push(e)
    size += bytes
  }
  const names = shards.map(
    (_, i) =>
      `diffusion_pytorch_model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`
  )
  const weightMap: Record<string, string> = {}
  for (let i = 0; i < shards.length; i++) {
    await writeStreamed(join(dir, names[i]), shards[i], dtype, seed + i)
    for (const [name] of shards[i]) weightMap[name] = names[i]
  }
  const totalSize = entries.reduce((a, [, s]) => a + numel(s) * BYTES[dtype], 0)
  await fs.writeFile(
    join(dir, 'diffusion_pytorch_model.safetensors.index.json'),
    JSON.stringify({metadata: {total_size: totalSize}, weight_map: weightMap}, null, 2)
  )
  return [...names, 'diffusion_pytorch_model.safetensors.index.json']
}

/** A PixArt small enough to write, load and train in a test (2 layers, 2 heads of 8, 8x8x4 latents as 16 tokens). */
export const TINY_PIXART: PixArtConfig = {
  num_layers: 2,
  num_attention_heads: 2,
  attention_head_dim: 8,
  in_channels: 4,
  out_channels: 8,
  patch_size: 2,
  sample_size: 8,
  cross_attention_dim: 16,
  caption_channels: 12,
  norm_eps: 1e-6
}

export async function writePixArtFolder(
  dir: string,
  cfg: PixArtConfig,
  dtype: StoredDtype,
  maxShardBytes?: number
): Promise<string[]> {
  await fs.mkdir(dir, {recursive: true})
  await fs.writeFile(
    join(dir, 'config.json'),
    JSON.stringify(
      {...toDiffusersConfig(cfg), _class_name: 'Transformer2DModel', _diffusers_version: '0.22.0.dev0'},
      null,
      2
    )
  )
  return writeDiffusersWeights(dir, pixartParamShapes(cfg), dtype, maxShardBytes)
}

export async function writeVaeFolder(
  dir: string,
  cfg: VaeConfig,
  dtype: StoredDtype,
  maxShardBytes?: number
): Promise<string[]> {
  await fs.mkdir(dir, {recursive: true})
  await fs.writeFile(
    join(dir, 'config.json'),
    JSON.stringify({...vaeDiffusersConfig(cfg), _class_name: 'AutoencoderKL'}, null, 2)
  )
  return writeDiffusersWeights(dir, vaeParamShapes(cfg), dtype, maxShardBytes, 7)
}

export interface BertSize {
  vocab: number
  hidden: number
  layers: number
  heads: number
  intermediate: number
  positions: number
}
/** bert-base-uncased / Bio_ClinicalBERT sizes (110M parameters with the pretraining heads' bias). */
export const BERT_BASE: BertSize = {
  vocab: 28996,
  hidden: 768,
  layers: 12,
  heads: 12,
  intermediate: 3072,
  positions: 512
}

/** BertForPreTraining state_dict names and shapes (`bert.` prefix, a `cls.` head tensor), as Bio_ClinicalBERT ships. */
export function bertPretrainingShapes(s: BertSize): Map<string, number[]> {
  const m = new Map<string, number[]>()
  const lin = (p: string, out: number, inp: number): void => {
    m.set(`${p}.weight`, [out, inp])
    m.set(`${p}.bias`, [out])
  }
  const ln = (p: string): void => {
    m.set(`${p}.weight`, [s.hidden])
    m.set(`${p}.bias`, [s.hidden])
  }
  m.set('bert.embeddings.word_embeddings.weight', [s.vocab, s.hidden])
  m.set('bert.embeddings.position_embeddings.weight', [s.positions, s.hidden])
  m.set('bert.embeddings.token_type_embeddings.weight', [2, s.hidden])
  ln('bert.embeddings.LayerNorm')
  for (let i = 0; i < s.layers; i++) {
    const p = `bert.encoder.layer.${i}`
    for (const n of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense'])
      lin(`${p}.${n}`, s.hidden, s.hidden)
    ln(`${p}.attention.output.LayerNorm`)
    lin(`${p}.intermediate.dense`, s.intermediate, s.hidden)
    lin(`${p}.output.dense`, s.hidden, s.intermediate)
    ln(`${p}.output.LayerNorm`)
  }
  lin('bert.pooler.dense', s.hidden, s.hidden)
  m.set('cls.predictions.bias', [s.vocab])
  return m
}

/** A Hugging Face BERT folder: config.json + pytorch_model.bin (torch zip, float32) or model.safetensors. */
export async function writeBertFolder(
  dir: string,
  s: BertSize,
  format: 'bin' | 'safetensors',
  dtype: StoredDtype = 'F32'
): Promise<string[]> {
  await fs.mkdir(dir, {recursive: true})
  await fs.writeFile(
    join(dir, 'config.json'),
    JSON.stringify(
      {
        architectures: ['BertForPreTraining'],
        model_type: 'bert',
        vocab_size: s.vocab,
        hidden_size: s.hidden,
        num_hidden_layers: s.layers,
        num_attention_heads: s.heads,
        intermediate_size: s.intermediate,
        max_position_embeddings: s.positions,
        type_vocab_size: 2,
        hidden_act: 'gelu',
        layer_norm_eps: 1e-12,
        pad_token_id: 0
      },
      null,
      2
    )
  )
  const shapes = bertPretrainingShapes(s)
  if (format === 'safetensors') {
    await writeStreamed(join(dir, 'model.safetensors'), [...shapes.entries()], dtype, 3)
    return ['model.safetensors']
  }
  const storageType = {F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage'}[dtype]
  const tensors: Record<string, FakeTensor> = {}
  const storages: Record<string, FakeStorage> = {}
  let i = 0
  for (const [name, shape] of shapes) {
    const key = String(i)
    const stride = shape.map((_, d) => numel(shape.slice(d + 1)))
    tensors[name] = {storage: key, offset: 0, size: shape, stride}
    storages[key] = {
      type: storageType,
      bytes: new Uint8Array(encode(randomValues(numel(shape), 3 * 100003 + i++), dtype))
    }
  }
  await fs.writeFile(join(dir, 'pytorch_model.bin'), torchZip(tensors, storages))
  return ['pytorch_model.bin']
}
