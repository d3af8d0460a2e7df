// Image folders as eval reads them: any folder of images (nested class folders allowed), so
// other systems' samples can be scored with the same code (issue 9). Images are decoded with
// sharp to RGB (alpha dropped, greyscale expanded), like PIL's .convert('RGB') in pytorch-fid.
import {promises as fs} from 'node:fs'
import {join, relative} from 'node:path'
import sharp from 'sharp'
import {UserError, describeFsError} from '../../errors.js'
import {pixelLimitError, sharpInputLimits} from '../../io/limits.js'

const imageExt = /\.(png|jpe?g|bmp|webp|tiff?)$/i

/** Image files under `dir`, sorted by relative path; hidden files and masks/ folders skipped. */
export async function listImages(dir: string): Promise<string[]> {
  const out: string[] = []
  async function walk(d: string): Promise<void> {
    let entries
    try { entries = await fs.readdir(d, {withFileTypes: true}) } catch (err) { throw describeFsError(err, d) ?? err }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue
      const p = join(d, e.name)
      if (e.isDirectory()) { if (!/^masks?$/i.test(e.name)) await walk(p) } else if (imageExt.test(e.name) && !/_(mask|segmentation)\./i.test(e.name)) out.push(p)
    }
  }
  await walk(dir)
  out.sort((a, b) => relative(dir, a).localeCompare(relative(dir, b)))
  return out
}

export interface RgbImage { width: number, height: number, data: Uint8Array }

/** Decodes one image to 8-bit RGB; a corrupt file is a one-line UserError naming it. */
export async function readRgb(path: string, size?: number): Promise<RgbImage> {
  try {
    let img = sharp(path, {failOn: 'error', ...sharpInputLimits()}).toColourspace('srgb').removeAlpha()
    if (size) img = img.resize(size, size, {fit: 'fill', kernel: 'linear'})
    const {data, info} = await img.raw().toBuffer({resolveWithObject: true})
    if (info.channels === 3) return {width: info.width, height: info.height, data: new Uint8Array(data)}
    // greyscale: expand to RGB
    const rgb = new Uint8Array(info.width * info.height * 3)
    for (let i = 0; i < info.width * info.height; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = data[i * info.channels]
    return {width: info.width, height: info.height, data: rgb}
  } catch (err) {
    const fsErr = describeFsError(err, path) ?? pixelLimitError(path, err)
    if (fsErr) throw fsErr
    throw new UserError(`${path}: cannot decode image (${(err as Error).message.split('\n')[0]})`)
  }
}
