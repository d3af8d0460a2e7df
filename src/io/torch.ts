// Reads PyTorch checkpoints as torch.save writes them (docs/DESIGN.md "Weights"), into a TensorMap:
//  - zip format (torch >= 1.6): <root>/data.pkl holds the object pickle, tensors point through
//    persistent ids ('storage', StorageType, key, location, numel) at entries <root>/data/<key>;
//  - legacy format (torch < 1.6, or _use_new_zipfile_serialization=False): pickles of the magic
//    number, protocol version and sys_info, then the object pickle, then a pickled list of
//    storage keys, then each storage as an 8-byte little-endian element count and its raw bytes.
// Tensors come from torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): offsets
// and strides are honoured (non-contiguous views are materialised), and storages shared by
// several tensors (tied embeddings) are read once. Nested dicts flatten to dotted names.
import {promises as fs} from 'node:fs'
import type {FileHandle} from 'node:fs/promises'
import {UserError, describeFsError} from '../errors.js'
import {unpickle, PyGlobal, PickleError} from './pickle.js'
import {isZip, readZipDirectory, readEntry, ZipFormatError, type ZipEntry} from './zip.js'
import {decodeTensorBytes} from './safetensors.js'
import {numel, type DType, type HostTensor, type TensorMap} from './tensor-map.js'

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL'
}
const ELEMENT_BYTES: Record<DType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1
}
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn

/** A storage as the pickle names it; `elementOffset` is non-zero only for legacy storage views. */
interface StorageRef {
  key: string
  dtype: DType
  elementOffset: number
}
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[]
  ) {}
}

class CorruptCheckpoint extends Error {}

function storageFromPid(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage')
    throw new CorruptCheckpoint(`unexpected persistent id ${String(pid).slice(0, 80)}`)
  const type = pid[1]
  const typeName = type instanceof PyGlobal ? type.name : String(type)
  const dtype = Object.hasOwn(STORAGE_DTYPES, typeName) ? STORAGE_DTYPES[typeName] : undefined
  if (!dtype)
    throw new CorruptCheckpoint(`unsupported storage type ${type instanceof PyGlobal ? type.qualified : typeName}`)
  const view = pid[5] // legacy only: (view_key, offset, view_size) or None
  const elementOffset = Array.isArray(view) ? Number(view[1]) : 0
  if (!Number.isSafeInteger(elementOffset) || elementOffset < 0)
    throw new CorruptCheckpoint(`storage ${String(pid[2])}: bad view offset`)
  return {key: String(pid[2]), dtype, elementOffset}
}

function construct(cls: PyGlobal, args: unknown[]): unknown {
  switch (cls.qualified) {
    case 'collections.OrderedDict':
    case 'builtins.dict':
      return new Map(
        Array.isArray(args[0])
          ? (args[0] as unknown[]).filter((e): e is [unknown, unknown] => Array.isArray(e) && e.length === 2)
          : []
      )
    case 'torch._utils._rebuild_tensor_v2':
    case 'torch._utils._rebuild_tensor': {
      const [storage, offset, size, stride] = args as [unknown, unknown, unknown, unknown]
      // values from the pickle: a hand-made file may put anything here
      if (
        !storage ||
        typeof storage !== 'object' ||
        !('key' in storage) ||
        !Array.isArray(size) ||
        !Array.isArray(stride)
      ) {
        throw new CorruptCheckpoint('a tensor is rebuilt from arguments that are not (storage, offset, size, stride)')
      }
      return new TensorRef(storage as StorageRef, Number(offset), size.map(Number), stride.map(Number))
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return args[0]
    case 'torch._tensor._rebuild_from_type_v2': {
      // tensor subclasses: (func, type, func_args, state)
      const [func, , funcArgs] = args as [unknown, unknown, unknown[]]
      return func instanceof PyGlobal ? construct(func, funcArgs) : undefined
    }
    default:
      return undefined // an inert PyObject: not part of a state_dict's tensors
  }
}

/** Tensors of a loaded object, with nested dicts joined by dots (`{'model': {...}}` -> `model.x`). */
function collectTensors(value: unknown, prefix: string, out: Map<string, TensorRef>): void {
  if (value instanceof TensorRef) {
    out.set(prefix, value)
    return
  }
  if (value instanceof Map) {
    for (const [k, v] of value)
      if (typeof k === 'string' || typeof k === 'number') collectTensors(v, prefix ? `${prefix}.${k}` : String(k), out)
  }
}

type StorageReader = (ref: StorageRef, firstElement: number, count: number) => Promise<Buffer>

/** C-order contiguous: strides are the running products of the sizes (size-1 dims may have any stride). */
function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false
    expected *= size[d]
  }
  return true
}

/** Element offsets (relative to the tensor's first element) of a strided view, in C order. */
function stridedIndices(size: number[], stride: number[]): Float64Array {
  const out = new Float64Array(numel(size))
  const idx = new Array(size.length).fill(0)
  for (let i = 0; i < out.length; i++) {
    let at = 0
    for (let d = 0; d < size.length; d++) at += idx[d] * stride[d]
    out[i] = at
    for (let d = size.length - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break
      idx[d] = 0
    }
  }
  return out
}

async function materialise(
  name: string,
  t: TensorRef,
  read: StorageReader,
  storageElements: (ref: StorageRef) => number
): Promise<HostTensor> {
  const n = numel(t.size)
  const outDtype: DType = t.storage.dtype === 'F16' || t.storage.dtype === 'BF16' ? 'F32' : t.storage.dtype
  if (
    t.size.length !== t.stride.length ||
    t.size.some(d => !Number.isSafeInteger(d) || d < 0) ||
    !Number.isSafeInteger(t.offset) ||
    !Number.isSafeInteger(n)
  ) {
    throw new CorruptCheckpoint(`tensor ${name}: bad size/stride/offset`)
  }
  if (n === 0) return {dtype: outDtype, shape: t.size, data: decodeTensorBytes(t.storage.dtype, Buffer.alloc(0))}
  const span = 1 + t.size.reduce((acc, d, i) => acc + (d - 1) * t.stride[i], 0)
  const first = t.storage.elementOffset + t.offset
  const available = storageElements(t.storage)
  if (t.offset < 0 || t.stride.some(s => !Number.isInteger(s) || s < 0) || first + span > available) {
    throw new CorruptCheckpoint(`tensor ${name} reaches past its storage ${t.storage.key}`)
  }
  // A view may not hold more elements than its storage: stride 0 over 250M elements would make
  // a 520-byte file allocate gigabytes. (torch.save of an expand()ed tensor is the one genuine
  // case; save tensor.contiguous() instead.)
  if (n > available) {
    throw new CorruptCheckpoint(
      `tensor ${name} views ${n} elements over a storage of ${available} (stride ${JSON.stringify(t.stride)}); save tensor.contiguous() instead`
    )
  }
  const decoded = decodeTensorBytes(t.storage.dtype, await read(t.storage, first, span))
  if (isContiguous(t.size, t.stride)) return {dtype: outDtype, shape: t.size, data: decoded}
  const picks = stridedIndices(t.size, t.stride)
  const Ctor = decoded.constructor as new (n: number) => HostTensor['data']
  const data = new Ctor(n)
  for (let i = 0; i < n; i++) (data as Float32Array)[i] = (decoded as Float32Array)[picks[i]]
  return {dtype: outDtype, shape: t.size, data}
}

async function readZipCheckpoint(
  handle: FileHandle
): Promise<{tensors: Map<string, TensorRef>; read: StorageReader; elements: (r: StorageRef) => number}> {
  const dir = await readZipDirectory(handle)
  const pkl = [...dir.keys()].find(k => k === 'data.pkl' || k.endsWith('/data.pkl'))
  if (!pkl) throw new CorruptCheckpoint('zip archive has no data.pkl (not a torch.save checkpoint)')
  const root = pkl.slice(0, -'data.pkl'.length)
  const byteorder = dir.get(`${root}byteorder`) // written by torch >= 2.1; absent means little-endian
  if (byteorder && (await readEntry(handle, byteorder)).toString('latin1').trim() === 'big')
    throw new CorruptCheckpoint('big-endian checkpoints are not supported')
  const refs: StorageRef[] = []
  const {value} = unpickle(await readEntry(handle, dir.get(pkl)!), 0, {
    construct,
    persistentLoad: pid => {
      const ref = storageFromPid(pid)
      refs.push(ref)
      return ref
    }
  })
  const entryOf = (ref: StorageRef): ZipEntry => {
    const entry = dir.get(`${root}data/${ref.key}`)
    if (!entry) throw new CorruptCheckpoint(`storage ${ref.key} is missing from the archive`)
    return entry
  }
  for (const ref of refs) entryOf(ref)
  const tensors = new Map<string, TensorRef>()
  collectTensors(value, '', tensors)
  return {
    tensors,
    elements: ref => Math.floor(entryOf(ref).size / ELEMENT_BYTES[ref.dtype]),
    read: (ref, first, count) =>
      readEntry(handle, entryOf(ref), first * ELEMENT_BYTES[ref.dtype], count * ELEMENT_BYTES[ref.dtype])
  }
}

async function readLegacyCheckpoint(
  handle: FileHandle,
  size: number
): Promise<{tensors: Map<string, TensorRef>; read: StorageReader; elements: (r: StorageRef) => number}> {
  // The pickles come first and are small next to the storages; read a growing prefix until they parse.
  for (let headLength = Math.min(size, 1 << 24); ; headLength = Math.min(size, headLength * 4)) {
    const head = Buffer.alloc(headLength)
    await handle.read(head, 0, headLength, 0)
    try {
      if (head[0] !== 0x80) throw new CorruptCheckpoint('neither a zip archive nor a legacy torch pickle')
      const magic = unpickle(head, 0)
      if (magic.value !== LEGACY_MAGIC && magic.value !== Number(LEGACY_MAGIC))
        throw new CorruptCheckpoint('not a PyTorch checkpoint (no zip header, no legacy magic number)')
      const protocol = unpickle(head, magic.end)
      if (protocol.value !== 1001)
        throw new CorruptCheckpoint(`unsupported legacy protocol version ${String(protocol.value)}`)
      const sysInfo = unpickle(head, protocol.end)
      if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false)
        throw new CorruptCheckpoint('big-endian checkpoints are not supported')
      const dtypes = new Map<string, DType>()
      const main = unpickle(head, sysInfo.end, {
        construct,
        persistentLoad: pid => {
          const ref = storageFromPid(pid)
          dtypes.set(ref.key, ref.dtype)
          return ref
        }
      })
      const keys = unpickle(head, main.end)
      if (!Array.isArray(keys.value)) throw new CorruptCheckpoint('storage key list missing')
      // Walk the storage records (count + bytes) to find where each one's data starts.
      const located = new Map<string, {at: number; elements: number}>()
      let at = keys.end
      for (const key of keys.value.map(String)) {
        const dtype = dtypes.get(key)
        if (!dtype) throw new CorruptCheckpoint(`storage ${key} is listed but never used`)
        if (at + 8 > size) throw new CorruptCheckpoint(`storage ${key} lies past the end of the file`)
        const countBuf = Buffer.alloc(8)
        await handle.read(countBuf, 0, 8, at)
        const elements = Number(countBuf.readBigInt64LE(0))
        if (elements < 0 || at + 8 + elements * ELEMENT_BYTES[dtype] > size)
          throw new CorruptCheckpoint(`storage ${key} lies past the end of the file`)
        located.set(key, {at: at + 8, elements})
        at += 8 + elements * ELEMENT_BYTES[dtype]
      }
      const where = (ref: StorageRef) => {
        const loc = located.get(ref.key)
        if (!loc) throw new CorruptCheckpoint(`storage ${ref.key} is missing`)
        return loc
      }
      const tensors = new Map<string, TensorRef>()
      collectTensors(main.value, '', tensors)
      return {
        tensors,
        elements: ref => where(ref).elements,
        read: async (ref, first, count) => {
          const bytes = ELEMENT_BYTES[ref.dtype]
          const buf = Buffer.alloc(count * bytes)
          await handle.read(buf, 0, buf.length, where(ref).at + first * bytes)
          return buf
        }
      }
    } catch (err) {
      if (err instanceof PickleError && headLength < size) continue
      throw err
    }
  }
}

/**
 * Opens a torch.save checkpoint (zip or legacy), parses its pickle and hands it to `use`; every
 * failure becomes one line naming the file (truncated/corrupt archive, limits, file system).
 */
async function withTorchCheckpoint<T>(
  path: string,
  use: (ckpt: Awaited<ReturnType<typeof readZipCheckpoint>>) => Promise<T>
): Promise<T> {
  let handle: FileHandle
  try {
    handle = await fs.open(path, 'r')
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
  try {
    const {size} = await handle.stat()
    if (size === 0) throw new UserError(`${path}: empty file, expected a PyTorch checkpoint`)
    const ckpt = (await isZip(handle)) ? await readZipCheckpoint(handle) : await readLegacyCheckpoint(handle, size)
    return await use(ckpt)
  } catch (err) {
    // limits (src/io/limits.ts) name the zip entry; the line names the file too
    if (err instanceof UserError)
      throw err.message.startsWith(path) ? err : new UserError(`${path}: ${err.message}`, err.exitCode)
    if (
      err instanceof CorruptCheckpoint ||
      err instanceof PickleError ||
      err instanceof ZipFormatError ||
      err instanceof RangeError
    ) {
      throw new UserError(`${path}: truncated or corrupt PyTorch checkpoint (${(err as Error).message})`)
    }
    throw describeFsError(err, path) ?? err
  } finally {
    await handle.close()
  }
}

/** Names, storage dtypes and shapes of a torch.save checkpoint, without reading tensor data. */
export async function readTorchTensorInfo(path: string): Promise<Map<string, {dtype: DType; shape: number[]}>> {
  return withTorchCheckpoint(
    path,
    async ckpt => new Map([...ckpt.tensors].map(([name, ref]) => [name, {dtype: ref.storage.dtype, shape: ref.size}]))
  )
}

/** Reads every tensor (or those whose names pass `filter`) of a torch.save checkpoint. */
export async function readTorchCheckpoint(path: string, filter?: (name: string) => boolean): Promise<TensorMap> {
  return withTorchCheckpoint(path, async ckpt => {
    const out: TensorMap = new Map()
    const cache = new Map<string, HostTensor>()
    for (const [name, ref] of ckpt.tensors) {
      if (filter && !filter(name)) continue
      // Tied weights point at the same storage region: decode it once, share the values.
      const sig = `${ref.storage.key}:${ref.storage.elementOffset + ref.offset}:${ref.size}:${ref.stride}`
      const t = cache.get(sig) ?? (await materialise(name, ref, ckpt.read, ckpt.elements))
      cache.set(sig, t)
      out.set(name, t)
    }
    return out
  })
}
