// On-disk cache of resized images and masks (uint8) for the batch loader, under
// <run>/cache/<size>/. The key is the source files' path, byte size and mtime plus the target
// size and fit (hashing every byte of a large dataset on each run would cost more than the
// resize it saves). Entries are written to a temp name and renamed; a short or unreadable
// entry is treated as a miss and rebuilt.
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'
import {sha256} from '../io/atomic.js'

const MAGIC = 0x3143474d // 'MGC1'

export interface CachedItem {
  rgb: Uint8Array
  mask: Uint8Array | null
}

export async function cacheKey(files: string[], size: number, fit: string): Promise<string> {
  const parts: string[] = [`size=${size}`, `fit=${fit}`]
  for (const f of files) {
    const s = await fs.stat(f)
    parts.push(`${f}\t${s.size}\t${Math.floor(s.mtimeMs)}`)
  }
  return sha256(parts.join('\n'))
}

export function cachePath(dir: string, key: string): string {
  return join(dir, key.slice(0, 2), `${key}.bin`)
}

export async function readCached(path: string, size: number): Promise<CachedItem | null> {
  let buf: Buffer
  try {
    buf = await fs.readFile(path)
  } catch {
    return null
  }
  const n = size * size
  if (buf.length < 8 || buf.readUInt32LE(0) !== MAGIC) return null
  const hasMask = buf.readUInt32LE(4) === 1
  if (buf.length !== 8 + 3 * n + (hasMask ? n : 0)) return null
  const rgb = new Uint8Array(buf.buffer, buf.byteOffset + 8, 3 * n).slice()
  const mask = hasMask ? new Uint8Array(buf.buffer, buf.byteOffset + 8 + 3 * n, n).slice() : null
  return {rgb, mask}
}

export async function writeCached(path: string, item: CachedItem): Promise<void> {
  const head = Buffer.alloc(8)
  head.writeUInt32LE(MAGIC, 0)
  head.writeUInt32LE(item.mask ? 1 : 0, 4)
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
  try {
    await fs.mkdir(join(path, '..'), {recursive: true})
    await fs.writeFile(tmp, item.mask ? Buffer.concat([head, item.rgb, item.mask]) : Buffer.concat([head, item.rgb]))
    await fs.rename(tmp, path)
  } catch {
    await fs.rm(tmp, {force: true}).catch(() => {}) // a cache that cannot be written only costs time
  }
}
