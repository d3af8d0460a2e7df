// Generic image folder: <root>/<class>/<image> with an optional mask <image stem>_mask.png
// beside it. Ids are the file stems; when two classes hold the same stem, every id becomes
// `<class>__<stem>` so that ids stay unique. Layout flat: images directly in <root>, one class
// named after the folder (the usual unlabelled input).
import {basename, join} from 'node:path'
import {UserError} from '../../errors.js'
import {type DatasetRecord, type LayoutResult, isImageFile, listDir, rel, stemOf} from './common.js'

const MASK = /_mask(?:_\d+)?$/

/** Class folders that hold at least one image file. */
export async function findClassFolders(root: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await listDir(root)) {
    if (!e.isDir) continue
    const files = await listDir(join(root, e.name))
    if (files.some(f => f.isFile && isImageFile(f.name))) out.push(e.name)
  }
  return out
}

export async function readFolder(root: string): Promise<LayoutResult> {
  const classDirs = (await listDir(root)).filter(e => e.isDir).map(e => e.name)
  if (classDirs.length === 0) throw new UserError(`${root}: no class folders (expected <class>/<image> files)`)
  const records: DatasetRecord[] = []
  const classes: string[] = []
  for (const cls of classDirs) {
    const dir = join(root, cls)
    const found = await readImagesOf(dir, cls, root)
    if (found.length === 0) throw new UserError(`${dir}: class folder with no images`)
    classes.push(cls)
    records.push(...found)
  }
  const stems = new Set<string>()
  if (records.some(r => stems.size === stems.add(r.id).size)) {
    for (const r of records) {
      r.id = `${r.className}__${r.id}`
      r.group = r.id
    }
  }
  return {classes: classes.sort(), records}
}

/** Images directly in the folder, no class subfolders (an unlabelled set): one class named after the folder. */
export async function hasLooseImages(root: string): Promise<boolean> {
  return (await listDir(root)).some(e => e.isFile && isImageFile(e.name))
}

export async function readFlat(root: string): Promise<LayoutResult> {
  const cls = basename(root)
  const records = await readImagesOf(root, cls, root)
  if (records.length === 0) throw new UserError(`${root}: no images directly in the folder (layout flat)`)
  return {classes: [cls], records}
}

/** The images of one folder (masks `<stem>_mask.png`, `<stem>_mask_1.png` beside them excluded) as records of class `cls`. */
async function readImagesOf(dir: string, cls: string, root: string): Promise<DatasetRecord[]> {
  const files = (await listDir(dir)).filter(f => f.isFile && isImageFile(f.name))
  const byStem = new Map(files.map(f => [stemOf(f.name), f.name]))
  const images = files.filter(f => !MASK.test(stemOf(f.name)))
  return images.map(f => {
    const stem = stemOf(f.name),
      image = join(dir, f.name)
    const masks = [...byStem.keys()]
      .filter(
        s => s === `${stem}_mask` || new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_mask_\\d+$`).test(s)
      )
      .sort()
      .map(s => join(dir, byStem.get(s)!))
    return {id: stem, image, file: rel(root, image), mask: masks[0] ?? null, masks, className: cls, group: stem}
  })
}
