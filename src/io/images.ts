// Every image that medgen reads or writes goes through this file, the only one that calls sharp
// (imported lazily so `medgen --help` stays fast). Every file is opened the same way: missing,
// empty, truncated and undecodable files are one-line UserErrors, the pixel count is checked
// from the header against run.maxImagePixels before decoding, EXIF orientation is applied and
// warnings count as errors.
// readImage: float HWC in [0, 1]; 16-bit PNGs keep their 16 bits (read as ushort / 65535).
// Alpha is composited onto black, so a transparent pixel reads as black whatever colour it
// stores (dermoscopy crops and masks exported with transparency look as they do on screen).
// readRgb8: 8-bit RGB with a chosen resize kernel and alpha rule (eval drops alpha, as PIL's
// convert('RGB') in pytorch-fid does).
// Masks are binarised at > 127 (of 255) after a nearest-neighbour resize: JPEG masks such as
// Kvasir-SEG's carry compression noise around 0 and 255.
// Writing: PNG (and JPEG for synth) from raw pixels, SVG figures rendered to PNG, composites.
import {promises as fs} from 'node:fs'
import type {Sharp, FitEnum, KernelEnum, OverlayOptions} from 'sharp'
import {UserError, describeFsError} from '../errors.js'
import {writeFileAtomic} from './atomic.js'
import {checkImagePixels, sharpInputLimits} from './limits.js'

export type ImageSize = number | [width: number, height: number]
export type Fit = keyof FitEnum
export type Kernel = keyof KernelEnum

/** The file extensions medgen reads as images (dataset layouts, eval folders, the segmenter). */
export const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp'])

export interface ReadImageOptions {
  /** Resize to this many pixels square, or [width, height]; omitted = keep the file's size. */
  size?: ImageSize
  /** 1 = grayscale (ITU-R BT.709 luma, sharp's conversion), 3 = RGB. Default 3. */
  channels?: 1 | 3
  /** How the aspect ratio is handled when resizing (sharp's fit); default 'fill' (stretch). */
  fit?: Fit
}

export interface FloatImage {
  data: Float32Array
  width: number
  height: number
  channels: 1 | 3
}

async function loadSharp(): Promise<typeof import('sharp')> {
  return (await import('sharp')).default
}

function sizePair(size: ImageSize): [number, number] {
  const [w, h] = typeof size === 'number' ? [size, size] : size
  if (!Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0)
    throw new Error(`invalid image size ${JSON.stringify(size)}`)
  return [w, h]
}

/** Opens an image, turning missing, empty and undecodable files into one-line UserErrors. */
async function open(path: string): Promise<{image: Sharp; sixteenBit: boolean}> {
  let bytes: number
  try {
    bytes = (await fs.stat(path)).size
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
  if (bytes === 0) throw new UserError(`${path}: empty file (0 bytes), expected an image`)
  await rejectTruncatedPng(path, bytes)
  const sharp = await loadSharp()
  // failOn 'warning' (the most sensitive level) also rejects truncated JPEG/PNG data
  // limitInputPixels: libvips refuses to decode past run.maxImagePixels; the header check below
  // says so first, in words, before any pixel is allocated.
  // (metadata reads the header only, so it runs without the limit to learn the dimensions)
  let meta
  try {
    meta = await sharp(path, {failOn: 'warning', limitInputPixels: false}).metadata()
  } catch (err) {
    throw unreadable(path, err)
  }
  checkImagePixels(path, meta.width, meta.height)
  const image = sharp(path, {failOn: 'warning', autoOrient: true, ...sharpInputLimits()})
  return {image, sixteenBit: meta.depth === 'ushort'}
}

const PNG_SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10])

/** libspng decodes a PNG cut inside its final IEND chunk without complaint; a complete file ends with IEND. */
async function rejectTruncatedPng(path: string, bytes: number): Promise<void> {
  if (bytes < 20) return
  const handle = await fs.open(path, 'r')
  try {
    const head = Buffer.alloc(8)
    const tail = Buffer.alloc(12)
    await handle.read(head, 0, 8, 0)
    await handle.read(tail, 0, 12, bytes - 12)
    if (head.equals(PNG_SIGNATURE) && tail.toString('latin1', 4, 8) !== 'IEND') {
      throw new UserError(`${path}: not a readable image (truncated PNG: no IEND chunk at the end)`)
    }
  } finally {
    await handle.close()
  }
}

function unreadable(path: string, err: unknown): UserError {
  const reason = String((err as Error)?.message ?? err)
    .split('\n')[0]
    .trim()
  return new UserError(`${path}: not a readable image (${reason})`)
}

/** Decodes to raw pixels; decoding errors of damaged files surface here, not in metadata(). */
async function raw(
  path: string,
  image: Sharp,
  sixteenBit: boolean
): Promise<{data: Uint8Array | Uint16Array; width: number; height: number; channels: number}> {
  try {
    const {data, info} = await image.raw({depth: sixteenBit ? 'ushort' : 'uchar'}).toBuffer({resolveWithObject: true})
    const values = sixteenBit
      ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    return {data: values, width: info.width, height: info.height, channels: info.channels}
  } catch (err) {
    throw unreadable(path, err)
  }
}

/** Reads RGB, grayscale, RGBA or 16-bit PNG and JPEG files as float HWC in [0, 1]. */
export async function readImage(path: string, opts: ReadImageOptions = {}): Promise<FloatImage> {
  const channels = opts.channels ?? 3
  const {image, sixteenBit} = await open(path)
  let pipeline = image.flatten({background: {r: 0, g: 0, b: 0}})
  if (opts.size !== undefined) {
    const [width, height] = sizePair(opts.size)
    pipeline = pipeline.resize(width, height, {fit: opts.fit ?? 'fill'})
  }
  pipeline = pipeline.toColourspace(channels === 1 ? (sixteenBit ? 'grey16' : 'b-w') : sixteenBit ? 'rgb16' : 'srgb')
  const px = await raw(path, pipeline, sixteenBit)
  if (px.channels !== channels) throw new Error(`${path}: decoded ${px.channels} channels, expected ${channels}`)
  const scale = sixteenBit ? 1 / 65535 : 1 / 255
  const data = new Float32Array(px.data.length)
  for (let i = 0; i < data.length; i++) data[i] = px.data[i] * scale
  return {data, width: px.width, height: px.height, channels}
}

export interface ReadRgb8Options {
  /** Resize to this many pixels square, or [width, height]; omitted = keep the file's size. */
  size?: ImageSize
  /** sharp's fit; default 'fill' (stretch) */
  fit?: Fit
  /** sharp's resize kernel; default lanczos3 */
  kernel?: Kernel
  /** 'black' composites alpha onto black (as readImage); 'drop' discards it (PIL's convert('RGB')) */
  alpha?: 'black' | 'drop'
  /** colour of the bars of fit 'contain' */
  background?: string
}

/** How eval reads images: alpha dropped as PIL's convert('RGB') does in pytorch-fid, bilinear resize. */
export const asPytorchFid: ReadRgb8Options = {alpha: 'drop', kernel: 'linear'}

/** Decodes to 8-bit RGB (grayscale expanded, 16-bit files rounded to 8), resized as asked. */
export async function readRgb8(
  path: string,
  opts: ReadRgb8Options = {}
): Promise<{data: Uint8Array; width: number; height: number}> {
  const {image, sixteenBit} = await open(path)
  let pipeline = opts.alpha === 'drop' ? image.removeAlpha() : image.flatten({background: {r: 0, g: 0, b: 0}})
  if (opts.size !== undefined) {
    const [width, height] = sizePair(opts.size)
    pipeline = pipeline.resize(width, height, {
      fit: opts.fit ?? 'fill',
      kernel: opts.kernel ?? 'lanczos3',
      ...(opts.background ? {background: opts.background} : {})
    })
  }
  const px = await raw(path, pipeline.toColourspace(sixteenBit ? 'rgb16' : 'srgb'), sixteenBit)
  // 16-bit values become 8-bit as readImage's floats would: round(v / 65535 * 255)
  const to8 = sixteenBit ? (v: number) => Math.round((v * 255) / 65535) : (v: number) => v
  const rgb = new Uint8Array(px.width * px.height * 3)
  for (let i = 0; i < px.width * px.height; i++) {
    for (let c = 0; c < 3; c++) rgb[3 * i + c] = to8(px.data[i * px.channels + (px.channels >= 3 ? c : 0)])
  }
  return {data: rgb, width: px.width, height: px.height}
}

/** A binary mask (1 = foreground, value > 127 of 255) of a PNG or JPEG file, resized nearest-neighbour. */
export async function readMask(path: string, size?: ImageSize): Promise<Uint8Array> {
  return (await readMaskWithSize(path, size)).data
}

export async function readMaskWithSize(
  path: string,
  size?: ImageSize
): Promise<{data: Uint8Array; width: number; height: number}> {
  const {image, sixteenBit} = await open(path)
  let pipeline = image.flatten({background: {r: 0, g: 0, b: 0}})
  if (size !== undefined) {
    const [width, height] = sizePair(size)
    pipeline = pipeline.resize(width, height, {fit: 'fill', kernel: 'nearest'})
  }
  const px = await raw(path, pipeline.toColourspace(sixteenBit ? 'grey16' : 'b-w'), sixteenBit)
  const threshold = sixteenBit ? 127 * 257 : 127
  const data = new Uint8Array(px.width * px.height)
  for (let i = 0; i < data.length; i++) data[i] = px.data[i * px.channels] > threshold ? 1 : 0
  return {data, width: px.width, height: px.height}
}

/** Width and height of an image file (no decoding of pixel data). */
export async function imageSize(path: string): Promise<{width: number; height: number}> {
  const {image} = await open(path)
  let meta
  try {
    meta = await image.metadata()
  } catch (err) {
    throw unreadable(path, err)
  }
  return {width: meta.autoOrient?.width ?? meta.width!, height: meta.autoOrient?.height ?? meta.height!}
}

/** 8-bit PNG bytes of float HWC data in [0, 1] (clamped) or of 0..255 bytes; `zoom` enlarges by pixel repetition. */
export async function encodePng(
  data: Float32Array | Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  opts: {zoom?: number} = {}
): Promise<Buffer> {
  if (data.length !== width * height * channels) {
    throw new Error(`image data has ${data.length} values, expected ${width}x${height}x${channels}`)
  }
  let bytes: Uint8Array
  if (data instanceof Uint8Array) bytes = data
  else {
    bytes = new Uint8Array(data.length)
    for (let i = 0; i < data.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, data[i] || 0)) * 255)
  }
  const sharp = await loadSharp()
  let image = sharp(bytes, {raw: {width, height, channels}})
  if (opts.zoom && opts.zoom !== 1) image = image.resize(width * opts.zoom, height * opts.zoom, {kernel: 'nearest'})
  if (channels === 1) image = image.toColourspace('b-w') // else sharp writes gray as RGB
  return image.png({compressionLevel: 6}).toBuffer()
}

/** JPEG bytes of 8-bit pixels (synth's datasets; 4:4:4 so thin lesion borders keep their colour). */
export async function encodeJpeg(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
  quality = 95
): Promise<Buffer> {
  const sharp = await loadSharp()
  return sharp(pixels, {raw: {width, height, channels}}).jpeg({quality, chromaSubsampling: '4:4:4'}).toBuffer()
}

/** An SVG figure (plots, t-SNE, confusion matrices) rendered to PNG by librsvg: no plotting dependency. */
export async function svgToPng(svg: string): Promise<Buffer> {
  const sharp = await loadSharp()
  return sharp(Buffer.from(svg)).png().toBuffer()
}

/** PNG layers (and SVG text) placed on a white canvas, as contact sheets are made. */
export async function composePng(
  width: number,
  height: number,
  layers: Array<{input: Buffer; left: number; top: number}>
): Promise<Buffer> {
  const sharp = await loadSharp()
  return sharp({create: {width, height, channels: 3, background: '#ffffff'}})
    .composite(layers as OverlayOptions[])
    .png()
    .toBuffer()
}

/** Writes an 8-bit PNG atomically (temp file + fsync + rename). */
export async function writePng(
  path: string,
  data: Float32Array | Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 | 4
): Promise<void> {
  await writeFileAtomic(path, await encodePng(data, width, height, channels))
}
