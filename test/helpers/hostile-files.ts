// Files that lie about themselves, built byte by byte, for the tests of hostile inputs: a
// safetensors file whose header says what the test wants, a PNG whose header declares any size.
import {crc32, deflateSync} from 'node:zlib'

function u64(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(n))
  return b
}

/** A safetensors file: `headerJson` as written (valid or not), padded to 8 bytes as the format does, then `dataBytes` zero bytes. */
export function safetensorsWithHeader(headerJson: string, dataBytes = 0): Buffer {
  const padded = headerJson + ' '.repeat((8 - (headerJson.length % 8)) % 8)
  return Buffer.concat([u64(padded.length), Buffer.from(padded), Buffer.alloc(dataBytes)])
}

/** A safetensors file of only a length prefix claiming `headerLength` bytes, then `rest`. */
export function safetensorsClaiming(headerLength: number, rest: string): Buffer {
  return Buffer.concat([u64(headerLength), Buffer.from(rest)])
}

/** A valid PNG header declaring width × height RGB pixels, with one tiny IDAT: ~100 bytes on disk. */
export function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([len, body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.writeUInt8(8, 8)
  ihdr.writeUInt8(2, 9)
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0))
  ])
}
