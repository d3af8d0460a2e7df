// BUSI (Al-Dhabyani et al. 2020): benign/, malignant/, normal/ holding `<class> (N).png` and
// its mask `<class> (N)_mask.png`; some cases have extra masks `_mask_1.png`, `_mask_2.png`
// (several masses), which are unioned. normal/ images have all-black masks. The archive
// often unpacks into Dataset_BUSI_with_GT/, which is looked into.
import {join} from 'node:path'
import {UserError} from '../../errors.js'
import {type DatasetRecord, type LayoutResult, isImageFile, listDir, naturalCompare, rel, stemOf} from './common.js'

export const busiClasses = ['benign', 'malignant', 'normal']
const MASK = /^(.*)_mask(?:_(\d+))?$/

/** The folder holding the class folders (root or root/Dataset_BUSI_with_GT), or null. */
export async function findBusiRoot(root: string): Promise<string | null> {
  for (const dir of [root, join(root, 'Dataset_BUSI_with_GT')]) {
    let entries
    try {
      entries = await listDir(dir)
    } catch {
      continue
    }
    const names = new Set(entries.filter(e => e.isDir).map(e => e.name.toLowerCase()))
    if (busiClasses.filter(c => names.has(c)).length >= 2) return dir
  }
  return null
}

export async function readBusi(root: string): Promise<LayoutResult> {
  const base = await findBusiRoot(root)
  if (!base) throw new UserError(`${root}: expected benign/, malignant/ and normal/ folders (BUSI layout)`)
  const records: DatasetRecord[] = []
  const classes: string[] = []
  for (const e of await listDir(base)) {
    const cls = e.name.toLowerCase()
    if (!e.isDir || !busiClasses.includes(cls)) continue
    const dir = join(base, e.name)
    const files = (await listDir(dir)).filter(f => f.isFile && isImageFile(f.name))
    const masks = new Map<string, Array<{n: number; path: string}>>()
    const images: string[] = []
    for (const f of files) {
      const m = MASK.exec(stemOf(f.name))
      if (m) {
        const list = masks.get(m[1]) ?? []
        list.push({n: m[2] ? Number(m[2]) : 0, path: join(dir, f.name)})
        masks.set(m[1], list)
      } else images.push(f.name)
    }
    if (images.length === 0) throw new UserError(`${dir}: class folder with no images`)
    classes.push(cls)
    for (const name of images.sort(naturalCompare)) {
      const id = stemOf(name),
        image = join(dir, name)
      const list = (masks.get(id) ?? []).sort((x, y) => x.n - y.n).map(x => x.path)
      records.push({id, image, file: rel(root, image), mask: list[0] ?? null, masks: list, className: cls, group: id})
    }
  }
  return {classes: classes.sort(), records}
}
