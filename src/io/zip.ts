// Reads zip archives by offset, as torch.save writes them (stored entries, 64-byte aligned),
// with deflate via node:zlib and zip64 for archives or entries past 4 GiB. Only the central
// directory and the entries asked for are read, so multi-GB checkpoints never sit in one buffer.
import type {FileHandle} from 'node:fs/promises'
import {inflateRawSync} from 'node:zlib'
import {checkInflatedSize} from './limits.js'

export interface ZipEntry {
  name: string
  method: number
  compressedSize: number
  size: number
  localHeaderOffset: number
}

export class ZipFormatError extends Error {}

const EOCD = 0x06054b50
const ZIP64_LOCATOR = 0x07064b50
const ZIP64_EOCD = 0x06064b50
const CENTRAL = 0x02014b50
const LOCAL = 0x04034b50

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const {bytesRead} = await handle.read(buf, done, length - done, position + done)
    if (bytesRead === 0) throw new ZipFormatError(`unexpected end of file at byte ${position + done}`)
    done += bytesRead
  }
  return buf
}

const u64 = (b: Buffer, at: number) => Number(b.readBigUInt64LE(at))

export async function isZip(handle: FileHandle): Promise<boolean> {
  const {size} = await handle.stat()
  if (size < 4) return false
  return (await readAt(handle, 0, 4)).readUInt32LE(0) === LOCAL
}

export async function readZipDirectory(handle: FileHandle): Promise<Map<string, ZipEntry>> {
  const {size} = await handle.stat()
  const tailLength = Math.min(size, 22 + 0xffff)
  const tail = await readAt(handle, size - tailLength, tailLength)
  let eocd = -1
  for (let i = tail.length - 22; i >= 0; i--)
    if (tail.readUInt32LE(i) === EOCD) {
      eocd = i
      break
    }
  if (eocd < 0) throw new ZipFormatError('zip end-of-central-directory record missing; file truncated?')
  let count = tail.readUInt16LE(eocd + 10)
  let dirSize = tail.readUInt32LE(eocd + 12)
  let dirOffset = tail.readUInt32LE(eocd + 16)
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    const loc = eocd - 20
    if (loc < 0 || tail.readUInt32LE(loc) !== ZIP64_LOCATOR) throw new ZipFormatError('zip64 locator missing')
    const rec = await readAt(handle, u64(tail, loc + 8), 56)
    if (rec.readUInt32LE(0) !== ZIP64_EOCD) throw new ZipFormatError('zip64 end-of-central-directory record missing')
    count = u64(rec, 32)
    dirSize = u64(rec, 40)
    dirOffset = u64(rec, 48)
  }
  if (dirOffset + dirSize > size)
    throw new ZipFormatError(`central directory (${dirOffset}+${dirSize}) lies past the end of the file`)
  const dir = await readAt(handle, dirOffset, dirSize)
  const entries = new Map<string, ZipEntry>()
  let p = 0
  for (let n = 0; n < count; n++) {
    if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL)
      throw new ZipFormatError(`central directory entry ${n} is corrupt`)
    const method = dir.readUInt16LE(p + 10)
    let compressedSize = dir.readUInt32LE(p + 20)
    let uncompressed = dir.readUInt32LE(p + 24)
    const nameLength = dir.readUInt16LE(p + 28)
    const extraLength = dir.readUInt16LE(p + 30)
    const commentLength = dir.readUInt16LE(p + 32)
    let localHeaderOffset = dir.readUInt32LE(p + 42)
    const name = dir.toString('utf8', p + 46, p + 46 + nameLength)
    // zip64 extra field (id 1): the 8-byte values replace, in order, the 32-bit fields that are 0xffffffff
    let e = p + 46 + nameLength
    const extraEnd = e + extraLength
    while (e + 4 <= extraEnd) {
      const id = dir.readUInt16LE(e)
      const len = dir.readUInt16LE(e + 2)
      if (id === 1) {
        let q = e + 4
        if (uncompressed === 0xffffffff) {
          uncompressed = u64(dir, q)
          q += 8
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = u64(dir, q)
          q += 8
        }
        if (localHeaderOffset === 0xffffffff) {
          localHeaderOffset = u64(dir, q)
        }
      }
      e += 4 + len
    }
    entries.set(name, {name, method, compressedSize, size: uncompressed, localHeaderOffset})
    p = extraEnd + commentLength
  }
  return entries
}

/** Absolute file offset of an entry's data (after its local header, whose extra field may differ from the central one). */
export async function entryDataOffset(handle: FileHandle, entry: ZipEntry): Promise<number> {
  const local = await readAt(handle, entry.localHeaderOffset, 30)
  if (local.readUInt32LE(0) !== LOCAL) throw new ZipFormatError(`local header of ${entry.name} is corrupt`)
  return entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28)
}

/**
 * Inflates a deflated entry, bounded twice before a byte is allocated: the size the entry
 * declares must be within run.maxInflatedBytes (src/io/limits.ts), and zlib stops at that
 * declared size (maxOutputLength), so a small entry that inflates to gigabytes is refused.
 */
function inflateBounded(compressed: Buffer, entry: ZipEntry): Buffer {
  checkInflatedSize(`zip entry ${entry.name}`, entry.size)
  let whole: Buffer
  try {
    whole = inflateRawSync(compressed, {maxOutputLength: Math.max(1, entry.size)})
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new ZipFormatError(`${entry.name} inflates past the ${entry.size} bytes it declares`)
    throw new ZipFormatError(`${entry.name}: bad deflate data (${(err as Error).message.split('\n')[0]})`)
  }
  if (whole.length !== entry.size)
    throw new ZipFormatError(`${entry.name} inflates to ${whole.length} bytes, expected ${entry.size}`)
  return whole
}

/** Bytes [start, start+length) of an entry's uncompressed content. */
export async function readEntry(
  handle: FileHandle,
  entry: ZipEntry,
  start = 0,
  length = entry.size - start
): Promise<Buffer> {
  if (start < 0 || start + length > entry.size)
    throw new ZipFormatError(`read of ${length} bytes at ${start} exceeds ${entry.name} (${entry.size} bytes)`)
  const dataAt = await entryDataOffset(handle, entry)
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size)
      throw new ZipFormatError(
        `${entry.name} is stored (not compressed) but declares ${entry.compressedSize} bytes stored and ${entry.size} bytes of content`
      )
    return readAt(handle, dataAt + start, length)
  }
  if (entry.method === 8)
    return inflateBounded(await readAt(handle, dataAt, entry.compressedSize), entry).subarray(start, start + length)
  throw new ZipFormatError(`${entry.name} uses unsupported compression method ${entry.method}`)
}
