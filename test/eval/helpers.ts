// Small writers for eval tests: .npy / .npz (zip, stored or deflated) and PNG folders.
import {deflateRawSync, crc32} from 'node:zlib'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'

export function npy(data: Float32Array | Float64Array, shape: number[]): Buffer {
  const descr = data instanceof Float64Array ? '<f8' : '<f4'
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`
  const total = 10 + header.length + 1
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n'
  const pre = Buffer.alloc(10)
  pre.writeUInt8(0x93, 0)
  pre.write('NUMPY', 1, 'latin1')
  pre.writeUInt8(1, 6)
  pre.writeUInt8(0, 7)
  pre.writeUInt16LE(header.length, 8)
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)])
}

export function zip(entries: Record<string, Buffer>, deflate: boolean): Buffer {
  const locals: Buffer[] = [],
    centrals: Buffer[] = []
  let offset = 0
  for (const [name, raw] of Object.entries(entries)) {
    const body = deflate ? deflateRawSync(raw) : raw
    const crc = crc32(raw)
    const nameBuf = Buffer.from(name)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(deflate ? 8 : 0, 8)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(body.length, 18)
    local.writeUInt32LE(raw.length, 22)
    local.writeUInt16LE(nameBuf.length, 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(deflate ? 8 : 0, 10)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(body.length, 20)
    central.writeUInt32LE(raw.length, 24)
    central.writeUInt16LE(nameBuf.length, 28)
    central.writeUInt32LE(offset, 42)
    locals.push(local, nameBuf, body)
    centrals.push(central, nameBuf)
    offset += 30 + nameBuf.length + body.length
  }
  const cd = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(Object.keys(entries).length, 8)
  end.writeUInt16LE(Object.keys(entries).length, 10)
  end.writeUInt32LE(cd.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, cd, end])
}

/** Writes RGB uint8 images as PNGs into dir (created). */
export async function writePngs(dir: string, images: Uint8Array[], size: number, prefix = 'img'): Promise<string[]> {
  await fs.mkdir(dir, {recursive: true})
  const files: string[] = []
  for (let i = 0; i < images.length; i++) {
    const f = join(dir, `${prefix}-${String(i).padStart(3, '0')}.png`)
    await sharp(Buffer.from(images[i]), {raw: {width: size, height: size, channels: 3}})
      .png()
      .toFile(f)
    files.push(f)
  }
  return files
}
