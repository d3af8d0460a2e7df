// safetensors: u64 LE header length N, N bytes of JSON header, then raw little-endian data.
// Tensors are read one by one at their offsets (positions are JS numbers, exact to 2^53),
// so files larger than a Node Buffer (PixArt-XL in fp32 is 2.4 GB) load fine.
import {promises as fs} from 'node:fs'
import {UserError, describeFsError} from '../errors.js'
import {writeFileAtomic} from './atomic.js'
import {jsonObject, validateUserData, z} from './validate.js'
import {numel, type DType, type HostTensor, type TensorMap} from './tensor-map.js'

const BYTES: Record<DType, number> = {F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1}

export interface SafetensorsEntry {
  dtype: DType
  shape: number[]
  begin: number
  end: number
}
export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>
  metadata: Record<string, string>
  dataStart: number
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * f * 2 ** -24
  if (e === 31) return f ? NaN : s * Infinity
  return s * (1 + f / 1024) * 2 ** (e - 15)
}

/** Every half-precision bit pattern as float32 (256 KB, built on first use): widening a 1.2 GB fp16 checkpoint is one lookup per value. */
let halfTable: Float32Array | null = null
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536)
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h)
  }
  return halfTable
}

/**
 * Typed values of raw little-endian tensor bytes. `ab` must be the tensor's own ArrayBuffer (aligned,
 * exactly its bytes): F32 and the integer types are views of it (no copy); F16/BF16 are widened to float32.
 */
function decodeOwnedBytes(dtype: DType, ab: ArrayBuffer): HostTensor['data'] {
  switch (dtype) {
    case 'F32':
      return new Float32Array(ab)
    case 'F64':
      return new Float64Array(ab)
    case 'I64':
      return new BigInt64Array(ab)
    case 'I32':
      return new Int32Array(ab)
    case 'I16':
      return new Int16Array(ab)
    case 'I8':
      return new Int8Array(ab)
    case 'U8':
    case 'BOOL':
      return new Uint8Array(ab)
    case 'F16': {
      const src = new Uint16Array(ab)
      const out = new Float32Array(src.length)
      const table = halfToFloatTable()
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]]
      return out
    }
    case 'BF16': {
      const src = new Uint16Array(ab)
      const out = new Float32Array(src.length)
      const u32 = new Uint32Array(out.buffer)
      for (let i = 0; i < src.length; i++) u32[i] = src[i] << 16
      return out
    }
  }
}

export function decodeTensorBytes(dtype: DType, bytes: Buffer): HostTensor['data'] {
  // Copy into an aligned ArrayBuffer: Buffer slices may start at odd offsets.
  return decodeOwnedBytes(
    dtype,
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  )
}

/** The header is a JSON object of tensor entries plus an optional `__metadata__` of strings. */
const headerSchema = jsonObject
const metadataSchema = z.record(z.string(), z.string())

export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  let handle
  try {
    handle = await fs.open(path, 'r')
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
  try {
    const {size} = await handle.stat()
    if (size < 8) throw new UserError(`${path}: not a safetensors file (${size} bytes, too short for a header)`)
    const lenBuf = Buffer.alloc(8)
    await handle.read(lenBuf, 0, 8, 0)
    const headerLen = Number(lenBuf.readBigUInt64LE(0))
    if (headerLen <= 0 || headerLen > 100_000_000 || 8 + headerLen > size) {
      throw new UserError(
        `${path}: not a safetensors file (header length ${headerLen} does not fit a ${size}-byte file)`
      )
    }
    const headerBuf = Buffer.alloc(headerLen)
    await handle.read(headerBuf, 0, headerLen, 8)
    let parsed: unknown
    try {
      parsed = JSON.parse(headerBuf.toString('utf8'))
    } catch {
      throw new UserError(`${path}: safetensors header is not valid JSON`)
    }
    const json = validateUserData(headerSchema, parsed, {file: path}, 'safetensors header')
    const dataStart = 8 + headerLen
    const dataSize = size - dataStart
    const entries = new Map<string, SafetensorsEntry>()
    const metadata = validateUserData(metadataSchema, json.__metadata__ ?? {}, {file: path}, 'safetensors __metadata__')
    for (const [name, raw] of Object.entries(json)) {
      if (name === '__metadata__') continue
      const info = raw as any
      const dtype = info?.dtype as DType
      if (typeof dtype !== 'string' || !Object.hasOwn(BYTES, dtype))
        throw new UserError(`${path}: tensor ${name}: unsupported dtype ${info?.dtype}`)
      const shape: number[] = info.shape
      const [begin, end] = Array.isArray(info.data_offsets) ? info.data_offsets : []
      if (
        !Array.isArray(shape) ||
        shape.some(d => !Number.isSafeInteger(d) || d < 0) ||
        !Number.isSafeInteger(begin) ||
        !Number.isSafeInteger(end)
      ) {
        throw new UserError(`${path}: tensor ${name}: malformed header entry`)
      }
      if (begin < 0 || end < begin || end > dataSize) {
        throw new UserError(
          `${path}: tensor ${name}: data offsets [${begin}, ${end}] out of range (data section is ${dataSize} bytes)`
        )
      }
      if (end - begin !== numel(shape) * BYTES[dtype]) {
        throw new UserError(`${path}: tensor ${name}: ${end - begin} bytes do not match shape [${shape}] of ${dtype}`)
      }
      entries.set(name, {dtype, shape, begin, end})
    }
    const sorted = [...entries.entries()].filter(([, e]) => e.end > e.begin).sort((a, b) => a[1].begin - b[1].begin)
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i][1].begin < sorted[i - 1][1].end) {
        throw new UserError(`${path}: tensors ${sorted[i - 1][0]} and ${sorted[i][0]} overlap in the data section`)
      }
    }
    return {entries, metadata, dataStart}
  } finally {
    await handle.close()
  }
}

/**
 * Hands each tensor (or each whose name passes `filter`) to `each` as soon as it is read, in the
 * header's order, so a caller that converts and drops it never holds the whole file: each tensor's
 * bytes are read straight into its own buffer (float32 is a view of it, fp16/bf16 widened once).
 */
export async function forEachSafetensor(
  path: string,
  each: (name: string, tensor: HostTensor) => void | Promise<void>,
  filter?: (name: string) => boolean
): Promise<void> {
  const header = await readSafetensorsHeader(path)
  const handle = await fs.open(path, 'r')
  try {
    for (const [name, e] of header.entries) {
      if (filter && !filter(name)) continue
      const ab = new ArrayBuffer(e.end - e.begin)
      const view = new Uint8Array(ab)
      let done = 0
      while (done < view.length) {
        const {bytesRead} = await handle.read(view, done, view.length - done, header.dataStart + e.begin + done)
        if (bytesRead === 0) throw new UserError(`${path}: truncated while reading tensor ${name}`)
        done += bytesRead
      }
      await each(name, {
        dtype: e.dtype === 'F16' || e.dtype === 'BF16' ? 'F32' : e.dtype,
        shape: e.shape,
        data: decodeOwnedBytes(e.dtype, ab)
      })
    }
  } finally {
    await handle.close()
  }
}

/** Reads all tensors, or only those whose names pass `filter`. */
export async function readSafetensors(path: string, filter?: (name: string) => boolean): Promise<TensorMap> {
  const out: TensorMap = new Map()
  await forEachSafetensor(
    path,
    (name, t) => {
      out.set(name, t)
    },
    filter
  )
  return out
}

export async function readSafetensorsMetadata(path: string): Promise<Record<string, string>> {
  return (await readSafetensorsHeader(path)).metadata
}

function dtypeOf(t: HostTensor): DType {
  if (t.data instanceof Float32Array) return 'F32'
  if (t.data instanceof Float64Array) return 'F64'
  if (t.data instanceof BigInt64Array) return 'I64'
  if (t.data instanceof Int32Array) return 'I32'
  if (t.data instanceof Int16Array) return 'I16'
  if (t.data instanceof Int8Array) return 'I8'
  return t.dtype === 'BOOL' ? 'BOOL' : 'U8'
}

/** Serialises tensors (names sorted, then __metadata__, header padded with spaces to 8 bytes). */
export function encodeSafetensors(
  tensors: TensorMap | Record<string, HostTensor>,
  metadata?: Record<string, string>
): Buffer[] {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors))
  const names = [...map.keys()].sort()
  const header: Record<string, unknown> = {}
  let offset = 0
  const chunks: Buffer[] = []
  for (const name of names) {
    const t = map.get(name)!
    const dtype = dtypeOf(t)
    if (numel(t.shape) !== t.data.length)
      throw new Error(`tensor ${name}: shape [${t.shape}] does not match ${t.data.length} values`)
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)
    header[name] = {dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length]}
    chunks.push(bytes)
    offset += bytes.length
  }
  // __metadata__ goes last, as the golden fixtures' writer puts it, so a read-write round trip of
  // those files is byte-identical (readers accept it anywhere).
  if (metadata && Object.keys(metadata).length)
    header.__metadata__ = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, String(v)]))
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)))
  return [len, Buffer.from(json, 'utf8'), ...chunks]
}

export async function writeSafetensors(
  path: string,
  tensors: TensorMap | Record<string, HostTensor>,
  metadata?: Record<string, string>
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata))
}
