// Image I/O via sharp (issue 2, item 8): RGB, grayscale, RGBA, 16-bit PNG and JPEG fixtures made
// here, resizing, masks, PNG round trips, and damaged files.
import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import * as zlib from 'node:zlib'
import sharp from 'sharp'
import {readImage, readMask, readMaskWithSize, writePng, encodePng, imageSize} from '../../src/io/images.js'
import {tmpDir} from '../helpers/tmp.js'
import {expectUserError} from '../helpers/user-error.js'

const dir = tmpDir()
const W = 4
const H = 3
const rgb = Uint8Array.from({length: W * H * 3}, (_, i) => (i * 37 + 11) % 256)

async function fixture(
  name: string,
  data: Uint8Array,
  channels: 1 | 3 | 4,
  format: 'png' | 'jpeg',
  width = W,
  height = H
): Promise<string> {
  const path = join(dir, name)
  const img = sharp(data, {raw: {width, height, channels}})
  await (format === 'png' ? img.png() : img.jpeg({quality: 100, chromaSubsampling: '4:4:4'})).toFile(path)
  return path
}

/** A 16-bit grayscale or RGB PNG written by hand (sharp's raw input is 8-bit). */
function png16(path: string, values: number[], width: number, height: number, channels: 1 | 3 = 1): void {
  const crc32 = (zlib as unknown as {crc32: (d: Uint8Array) => number}).crc32
  const chunk = (type: string, body: Buffer) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(body.length)
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type), body])) >>> 0)
    return Buffer.concat([len, Buffer.from(type), body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 16
  ihdr[9] = channels === 1 ? 0 : 2
  const rowBytes = 1 + 2 * width * channels
  const rows = Buffer.alloc(height * rowBytes)
  for (let y = 0; y < height; y++)
    for (let i = 0; i < width * channels; i++)
      rows.writeUInt16BE(values[y * width * channels + i], y * rowBytes + 1 + 2 * i)
  writeFileSync(
    path,
    Buffer.concat([
      Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
      chunk('IHDR', ihdr),
      chunk('IDAT', zlib.deflateSync(rows)),
      chunk('IEND', Buffer.alloc(0))
    ])
  )
}

describe('images', () => {
  it('RGB PNG reads exactly, as HWC floats in [0, 1]', async () => {
    const img = await readImage(await fixture('rgb.png', rgb, 3, 'png'))
    expect([img.width, img.height, img.channels]).to.deep.equal([W, H, 3])
    expect(Array.from(img.data)).to.deep.equal(Array.from(rgb, v => Math.fround(v / 255)))
  })

  it('grayscale PNG reads as 1 channel, or replicated to 3', async () => {
    const gray = Uint8Array.from({length: W * H}, (_, i) => i * 20)
    const path = await fixture('gray.png', gray, 1, 'png')
    const one = await readImage(path, {channels: 1})
    expect(Array.from(one.data)).to.deep.equal(Array.from(gray, v => Math.fround(v / 255)))
    const three = await readImage(path, {channels: 3})
    expect(three.channels).to.equal(3)
    for (let i = 0; i < W * H; i++)
      expect([three.data[3 * i], three.data[3 * i + 1], three.data[3 * i + 2]]).to.deep.equal([
        one.data[i],
        one.data[i],
        one.data[i]
      ])
  })

  it('RGBA PNG: alpha is composited on black (opaque pixels keep their colour)', async () => {
    const rgba = new Uint8Array(W * H * 4)
    for (let i = 0; i < W * H; i++) rgba.set([200, 100, 50, i % 2 ? 255 : 0], 4 * i)
    const img = await readImage(await fixture('rgba.png', rgba, 4, 'png'))
    expect(img.channels).to.equal(3)
    for (let i = 0; i < W * H; i++) {
      const px = Array.from(img.data.subarray(3 * i, 3 * i + 3))
      expect(px).to.deep.equal(i % 2 ? [200, 100, 50].map(v => Math.fround(v / 255)) : [0, 0, 0])
    }
  })

  it('16-bit PNG keeps 16-bit precision', async () => {
    const values = [0, 1, 1000, 40000, 65534, 65535]
    const path = join(dir, 'deep.png')
    png16(path, values, 3, 2)
    const img = await readImage(path, {channels: 1})
    expect([img.width, img.height]).to.deep.equal([3, 2])
    expect(Array.from(img.data)).to.deep.equal(values.map(v => Math.fround(v / 65535)))
    const mask = await readMask(path)
    expect(Array.from(mask)).to.deep.equal([0, 0, 0, 1, 1, 1])
    const colour = [1, 2, 3, 65535, 30000, 513, 0, 65534, 12345, 7, 8, 9]
    const rgbPath = join(dir, 'deep-rgb.png')
    png16(rgbPath, colour, 2, 2, 3)
    const rgb16 = await readImage(rgbPath)
    expect([rgb16.width, rgb16.height, rgb16.channels]).to.deep.equal([2, 2, 3])
    expect(Array.from(rgb16.data)).to.deep.equal(colour.map(v => Math.fround(v / 65535)))
  })

  it('JPEG reads close to its source; resize gives the requested size', async () => {
    const smooth = Uint8Array.from({length: 16 * 16 * 3}, (_, i) => 60 + (((i / 3) | 0) % 16) * 8)
    const path = await fixture('photo.jpg', smooth, 3, 'jpeg', 16, 16)
    const img = await readImage(path)
    let worst = 0
    for (let i = 0; i < smooth.length; i++) worst = Math.max(worst, Math.abs(img.data[i] - smooth[i] / 255))
    expect(worst).to.be.below(4 / 255)
    const small = await readImage(path, {size: 8})
    expect([small.width, small.height, small.data.length]).to.deep.equal([8, 8, 8 * 8 * 3])
    const wide = await readImage(path, {size: [10, 4], channels: 1, fit: 'cover'})
    expect([wide.width, wide.height, wide.data.length]).to.deep.equal([10, 4, 40])
    expect(await imageSize(path)).to.deep.equal({width: 16, height: 16})
  })

  it('JPEG masks are thresholded to 0/1 and resized nearest-neighbour', async () => {
    const truth = new Uint8Array(16 * 16)
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) truth[y * 16 + x] = x >= 8 && y < 8 ? 1 : 0
    const path = join(dir, 'mask.jpg')
    await sharp(
      Uint8Array.from(truth, v => v * 255),
      {raw: {width: 16, height: 16, channels: 1}}
    )
      .jpeg({quality: 40})
      .toFile(path)
    const decoded = await sharp(path).raw().toBuffer()
    expect(
      Array.from(decoded).some(v => v !== 0 && v !== 255),
      'the JPEG fixture should carry compression noise'
    ).to.equal(true)
    expect(Array.from(await readMask(path))).to.deep.equal(Array.from(truth))
    const half = await readMaskWithSize(path, 4)
    expect([half.width, half.height]).to.deep.equal([4, 4])
    expect(Array.from(half.data)).to.deep.equal([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
  })

  it('writePng round-trips float data (rounded to 8 bits) and replaces files atomically', async () => {
    const data = Float32Array.from({length: 5 * 2 * 3}, (_, i) => i / 29)
    data[0] = -0.5 // clamped
    data[1] = 1.7
    const path = join(dir, 'out', 'written.png')
    await writePng(path, data, 5, 2, 3)
    await writePng(path, data, 5, 2, 3)
    const back = await readImage(path)
    expect([back.width, back.height]).to.deep.equal([5, 2])
    for (let i = 0; i < data.length; i++)
      expect(back.data[i]).to.be.closeTo(Math.min(1, Math.max(0, data[i])), 0.5 / 255 + 1e-7)
    const gray = await encodePng(new Uint8Array([0, 128, 255, 7]), 2, 2, 1)
    const meta = await sharp(gray).metadata()
    expect([meta.format, meta.channels, meta.width]).to.deep.equal(['png', 1, 2])
  })

  it('corrupt, truncated, zero-byte and missing files raise one-line errors naming the file', async () => {
    const corrupt = join(dir, 'corrupt.png')
    writeFileSync(corrupt, Buffer.from('definitely not an image, just text bytes'))
    await expectUserError(readImage(corrupt), corrupt, 'not a readable image')
    const whole = readFileSync(
      await fixture(
        'big.png',
        Uint8Array.from({length: 64 * 64 * 3}, (_, i) => (i * 7919) % 251),
        3,
        'png',
        64,
        64
      )
    )
    const cutPng = join(dir, 'cut.png')
    for (const keep of [Math.floor(whole.length / 2), whole.length - 4]) {
      // mid-data, and inside the final IEND chunk
      writeFileSync(cutPng, whole.subarray(0, keep))
      await expectUserError(readImage(cutPng), cutPng)
    }
    const jpeg = readFileSync(
      await fixture(
        'big.jpg',
        Uint8Array.from({length: 64 * 64 * 3}, (_, i) => (i * 7919) % 251),
        3,
        'jpeg',
        64,
        64
      )
    )
    const cutJpeg = join(dir, 'cut.jpg')
    writeFileSync(cutJpeg, jpeg.subarray(0, Math.floor(jpeg.length / 2)))
    await expectUserError(readImage(cutJpeg), cutJpeg)
    await expectUserError(readMask(cutJpeg, 8), cutJpeg)
    const empty = join(dir, 'empty.png')
    writeFileSync(empty, '')
    await expectUserError(readImage(empty), empty, 'empty file')
    await expectUserError(readImage(join(dir, 'absent.png')), 'absent.png', 'no such file')
  })
})
