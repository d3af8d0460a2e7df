// Writes small torch.save-style zip checkpoints (protocol-2 pickle + data/N storages) for tests,
// so views with offsets and strides, every storage type, shared storages and deflated entries can
// be exercised without Python. Mirrors what torch.serialization._save emits for a state_dict.
import {deflateRawSync} from 'node:zlib'
import * as zlib from 'node:zlib'

export interface FakeTensor {
  storage: string
  offset: number
  size: number[]
  stride: number[]
}
export interface FakeStorage {
  type: string
  bytes: Uint8Array
}

class PickleBuilder {
  private parts: number[] = [0x80, 2]
  op(...codes: number[]): this {
    this.parts.push(...codes)
    return this
  }
  text(s: string): this {
    this.parts.push(...Buffer.from(s, 'latin1'))
    return this
  }
  global(module: string, name: string): this {
    return this.op(0x63).text(`${module}\n${name}\n`)
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8')
    const len = Buffer.alloc(4)
    len.writeUInt32LE(b.length)
    return this.op(0x58, ...len, ...b)
  }
  int(v: number): this {
    const b = Buffer.alloc(4)
    b.writeInt32LE(v)
    return this.op(0x4a, ...b)
  }
  tuple(items: number[]): this {
    this.op(0x28)
    for (const v of items) this.int(v)
    return this.op(0x74)
  }
  bytes(): Buffer {
    return Buffer.from(this.parts)
  }
}

export function stateDictPickle(
  tensors: Record<string, FakeTensor>,
  storages: Record<string, FakeStorage>,
  elementBytes: Record<string, number>
): Buffer {
  const p = new PickleBuilder().global('collections', 'OrderedDict').op(0x29, 0x52, 0x28)
  for (const [name, t] of Object.entries(tensors)) {
    const s = storages[t.storage]
    p.str(name).global('torch._utils', '_rebuild_tensor_v2').op(0x28)
    p.op(0x28)
      .str('storage')
      .global('torch', s.type)
      .str(t.storage)
      .str('cpu')
      .int(s.bytes.length / elementBytes[s.type])
      .op(0x74, 0x51)
    p.int(t.offset).tuple(t.size).tuple(t.stride).op(0x89).global('collections', 'OrderedDict').op(0x29, 0x52)
    p.op(0x74, 0x52)
  }
  return p.op(0x75, 0x2e).bytes()
}

/**
 * A zip of stored (or deflated) entries with a central directory, as torch writes it. With zip64,
 * every size and offset is moved into zip64 extra fields and records, as writers must do past 4 GiB.
 */
export function zipArchive(entries: Array<{name: string; data: Uint8Array}>, deflate = false, zip64 = false): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  const crc32 = (zlib as unknown as {crc32?: (d: Uint8Array) => number}).crc32 ?? (() => 0)
  for (const e of entries) {
    const name = Buffer.from(e.name)
    const body = deflate ? deflateRawSync(e.data) : Buffer.from(e.data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(deflate ? 8 : 0, 8)
    local.writeUInt32LE(crc32(e.data) >>> 0, 14)
    local.writeUInt32LE(body.length, 18)
    local.writeUInt32LE(e.data.length, 22)
    local.writeUInt16LE(name.length, 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(deflate ? 8 : 0, 10)
    central.writeUInt32LE(crc32(e.data) >>> 0, 16)
    central.writeUInt32LE(body.length, 20)
    central.writeUInt32LE(e.data.length, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt32LE(offset, 42)
    locals.push(local, name, body)
    if (zip64) {
      const extra = Buffer.alloc(28)
      extra.writeUInt16LE(1, 0)
      extra.writeUInt16LE(24, 2)
      extra.writeBigUInt64LE(BigInt(e.data.length), 4)
      extra.writeBigUInt64LE(BigInt(body.length), 12)
      extra.writeBigUInt64LE(BigInt(offset), 20)
      central.writeUInt32LE(0xffffffff, 20)
      central.writeUInt32LE(0xffffffff, 24)
      central.writeUInt32LE(0xffffffff, 42)
      central.writeUInt16LE(extra.length, 30)
      centrals.push(central, name, extra)
    } else centrals.push(central, name)
    offset += 30 + name.length + body.length
  }
  const dir = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(dir.length, 12)
  end.writeUInt32LE(offset, 16)
  if (!zip64) return Buffer.concat([...locals, dir, end])
  const record = Buffer.alloc(56)
  record.writeUInt32LE(0x06064b50, 0)
  record.writeBigUInt64LE(44n, 4)
  record.writeUInt16LE(45, 12)
  record.writeUInt16LE(45, 14)
  record.writeBigUInt64LE(BigInt(entries.length), 24)
  record.writeBigUInt64LE(BigInt(entries.length), 32)
  record.writeBigUInt64LE(BigInt(dir.length), 40)
  record.writeBigUInt64LE(BigInt(offset), 48)
  const locator = Buffer.alloc(20)
  locator.writeUInt32LE(0x07064b50, 0)
  locator.writeBigUInt64LE(BigInt(offset + dir.length), 8)
  locator.writeUInt32LE(1, 16)
  end.writeUInt16LE(0xffff, 8)
  end.writeUInt16LE(0xffff, 10)
  end.writeUInt32LE(0xffffffff, 12)
  end.writeUInt32LE(0xffffffff, 16)
  return Buffer.concat([...locals, dir, record, locator, end])
}

export function torchZip(
  tensors: Record<string, FakeTensor>,
  storages: Record<string, FakeStorage>,
  deflate = false,
  zip64 = false
): Buffer {
  const elementBytes: Record<string, number> = {
    FloatStorage: 4,
    HalfStorage: 2,
    BFloat16Storage: 2,
    DoubleStorage: 8,
    LongStorage: 8,
    IntStorage: 4
  }
  return zipArchive(
    [
      {name: 'archive/data.pkl', data: stateDictPickle(tensors, storages, elementBytes)},
      ...Object.entries(storages).map(([key, s]) => ({name: `archive/data/${key}`, data: s.bytes})),
      {name: 'archive/version', data: Buffer.from('3\n')}
    ],
    deflate,
    zip64
  )
}
