// Image decoding/encoding for the data layer: decoding goes through src/io/images.ts (sharp,
// loaded lazily; alpha flattened, 16-bit PNGs, EXIF orientation); a file that cannot be
// decoded — truncated, zero bytes, not an image — becomes a CorruptImageError naming the
// file, never a crash.
import {UserError} from '../errors.js'
import {readImage, readMaskWithSize} from '../io/images.js'

export class CorruptImageError extends UserError {
  constructor(
    readonly path: string,
    reason: string
  ) {
    super(
      `${path}: corrupt or unreadable image (${reason.split('\n')[0]}); fix or remove it, or set data.onCorrupt=skip`
    )
    this.name = 'CorruptImageError'
  }
}

export interface DecodedImage {
  /** HWC floats in [0,1] */
  data: Float32Array
  width: number
  height: number
  channels: number
}

export interface ResizeOptions {
  width: number
  height: number
  /** fill: stretch to the box (default); cover: scale and centre-crop */
  fit?: 'fill' | 'cover'
}

/**
 * src/io/images.ts reports a missing file as ENOENT-style UserError and an undecodable one
 * ("not a readable image", "empty file") likewise; the data layer needs to tell the second
 * kind apart (data.onCorrupt), so it becomes a CorruptImageError.
 */
function asCorrupt(path: string, err: unknown): unknown {
  const message = String((err as Error)?.message ?? err)
  if (err instanceof CorruptImageError) return err
  if (err instanceof UserError && !/not a readable image|empty file/.test(message)) return err
  return new CorruptImageError(path, message.replace(`${path}: `, ''))
}

/** Decodes an image as floats in [0,1], HWC, 3 channels (via src/io/images.ts). */
export async function decodeImage(path: string, resize?: ResizeOptions): Promise<DecodedImage> {
  try {
    const img = await readImage(
      path,
      resize ? {size: [resize.width, resize.height], fit: resize.fit ?? 'fill', channels: 3} : {channels: 3}
    )
    return {data: img.data, width: img.width, height: img.height, channels: 3}
  } catch (err) {
    throw asCorrupt(path, err)
  }
}

/** Decodes an image to 8-bit RGB (what the batch loader caches). */
export async function decodeRgb8(
  path: string,
  resize?: ResizeOptions
): Promise<{data: Uint8Array; width: number; height: number}> {
  const img = await decodeImage(path, resize)
  const out = new Uint8Array(img.data.length)
  for (let i = 0; i < out.length; i++) out[i] = Math.round(img.data[i] * 255)
  return {data: out, width: img.width, height: img.height}
}

/**
 * Decodes a mask (PNG, or JPEG as in Kvasir-SEG, whose compression leaves grey fringes) as
 * 0/1, thresholded at half intensity, optionally resized (nearest neighbour).
 */
export async function decodeMask(
  path: string,
  resize?: ResizeOptions
): Promise<{data: Uint8Array; width: number; height: number}> {
  let mask: {data: Uint8Array; width: number; height: number}
  try {
    mask = await readMaskWithSize(path, resize && resize.fit !== 'cover' ? [resize.width, resize.height] : undefined)
  } catch (err) {
    throw asCorrupt(path, err)
  }
  return resize && resize.fit === 'cover' ? coverNearest(mask, resize.width, resize.height) : mask
}

/** sharp's fit 'cover' (scale to cover, centre crop) for a 0/1 mask, nearest neighbour. */
function coverNearest(
  m: {data: Uint8Array; width: number; height: number},
  width: number,
  height: number
): {data: Uint8Array; width: number; height: number} {
  const scale = Math.max(width / m.width, height / m.height)
  const x0 = (m.width * scale - width) / 2,
    y0 = (m.height * scale - height) / 2
  const data = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) {
    const sy = Math.min(m.height - 1, Math.floor((y + 0.5 + y0) / scale))
    for (let x = 0; x < width; x++)
      data[y * width + x] = m.data[sy * m.width + Math.min(m.width - 1, Math.floor((x + 0.5 + x0) / scale))]
  }
  return {data, width, height}
}
