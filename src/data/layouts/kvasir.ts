// Kvasir-SEG (Jha et al. 2020): images/<name>.jpg and masks/<name>.jpg with the same names;
// masks are JPEGs (decoders threshold them), one class, `polyp`.
import {join} from 'node:path'
import {UserError} from '../../errors.js'
import {type DatasetRecord, type LayoutResult, isImageFile, listDir, rel, stemOf} from './common.js'

export async function findKvasirFolders(root: string): Promise<{images: string; masks: string} | null> {
  const entries = await listDir(root)
  const images = entries.find(e => e.isDir && e.name.toLowerCase() === 'images')
  const masks = entries.find(e => e.isDir && e.name.toLowerCase() === 'masks')
  return images && masks ? {images: join(root, images.name), masks: join(root, masks.name)} : null
}

export async function readKvasir(root: string): Promise<LayoutResult> {
  const folders = await findKvasirFolders(root)
  if (!folders) throw new UserError(`${root}: expected images/ and masks/ folders (Kvasir-SEG layout)`)
  const maskByStem = new Map<string, string>()
  for (const e of await listDir(folders.masks))
    if (e.isFile && isImageFile(e.name)) maskByStem.set(stemOf(e.name), join(folders.masks, e.name))
  const records: DatasetRecord[] = []
  for (const e of await listDir(folders.images)) {
    if (!e.isFile || !isImageFile(e.name)) continue
    const id = stemOf(e.name),
      image = join(folders.images, e.name)
    const mask = maskByStem.get(id) ?? null
    records.push({id, image, file: rel(root, image), mask, masks: mask ? [mask] : [], className: 'polyp', group: id})
  }
  return {classes: ['polyp'], records}
}
