// HAM10000 (Tschandl et al. 2018): HAM10000_metadata.csv (lesion_id, image_id, dx, dx_type,
// age, sex, localization), images in HAM10000_images_part_1/ and _part_2/ (or any one
// folder), lesion masks from the public segmentations as <image_id>_segmentation.png in a
// folder such as HAM10000_segmentations_lesion_tschandl/. Records are grouped by lesion_id so
// that one lesion never sits on both sides of a split (docs/DESIGN.md "Deliberate fixes").
import {basename, join} from 'node:path'
import {UserError} from '../../errors.js'
import {type DatasetRecord, type LayoutResult, isImageFile, readCsvTable, rel, stemOf, walkFiles} from './common.js'
import {pathExists} from '../../io/atomic.js'
import {checkFileName} from '../../io/paths.js'

export const hamMetadataNames = ['HAM10000_metadata.csv', 'HAM10000_metadata']

export async function findHamMetadata(root: string): Promise<string | null> {
  for (const name of hamMetadataNames) if (await pathExists(join(root, name))) return join(root, name)
  return null
}

export async function readHam10000(root: string): Promise<LayoutResult> {
  const metadata = await findHamMetadata(root)
  if (!metadata) throw new UserError(`${root}: no HAM10000_metadata.csv`)
  const rows = await readCsvTable(metadata, ['lesion_id', 'image_id', 'dx'], ['image_id', 'dx'])
  const files = await walkFiles(root, 3)
  const images = new Map<string, string>(),
    masks = new Map<string, string>()
  for (const f of files) {
    const name = basename(f)
    if (!isImageFile(name)) continue
    const stem = stemOf(name)
    if (stem.endsWith('_segmentation')) {
      if (!masks.has(stem.slice(0, -13))) masks.set(stem.slice(0, -13), f)
    } else if (!images.has(stem)) images.set(stem, f)
  }
  const records: DatasetRecord[] = []
  const missing: string[] = []
  const seen = new Set<string>()
  for (const row of rows) {
    const id = row.image_id
    if (!id) continue
    if (seen.has(id)) throw new UserError(`${metadata}: image_id ${id} listed twice`)
    seen.add(id)
    const image = images.get(id)
    if (!image) {
      missing.push(id)
      continue
    }
    const mask = masks.get(id) ?? null
    checkFileName(row.dx, `${metadata}: image ${id}: dx`) // the class is a folder name in samples/
    records.push({
      id,
      image,
      file: rel(root, image),
      mask,
      masks: mask ? [mask] : [],
      className: row.dx,
      group: row.lesion_id || id
    })
  }
  if (missing.length > 0) {
    throw new UserError(
      `${metadata}: ${missing.length} listed image${missing.length > 1 ? 's' : ''} not found under ${root} (first: ${missing.slice(0, 3).join(', ')})`
    )
  }
  const classes = [...new Set(records.map(r => r.className))].sort()
  return {classes, records}
}
