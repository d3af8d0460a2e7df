// Image folders as eval reads them: any folder of images (nested class folders allowed), so
// other systems' samples can be scored with the same code (issue 9). Images are decoded with
// src/io/images.ts readRgb8 (alpha dropped, greyscale expanded), like PIL's .convert('RGB') in pytorch-fid.
import {promises as fs} from 'node:fs'
import {extname, join, relative} from 'node:path'
import {describeFsError} from '../../errors.js'
import {imageExtensions} from '../../io/images.js'

/** Image files under `dir`, sorted by relative path; hidden files and masks/ folders skipped. */
export async function listImages(dir: string): Promise<string[]> {
  const out: string[] = []
  async function walk(d: string): Promise<void> {
    let entries
    try {
      entries = await fs.readdir(d, {withFileTypes: true})
    } catch (err) {
      throw describeFsError(err, d) ?? err
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue
      const p = join(d, e.name)
      if (e.isDirectory()) {
        if (!/^masks?$/i.test(e.name)) await walk(p)
      } else if (imageExtensions.has(extname(e.name).toLowerCase()) && !/_(mask|segmentation)\./i.test(e.name))
        out.push(p)
    }
  }
  await walk(dir)
  out.sort((a, b) => relative(dir, a).localeCompare(relative(dir, b)))
  return out
}
