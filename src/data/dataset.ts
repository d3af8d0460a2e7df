// Datasets on disk in one of the real layouts, detected from the folder contents.
//
// API:
//   loadDataset(path, {layout?: 'auto'|..., kind?, verify?, onCorrupt?, concurrency?}) -> Dataset
//     {layout, kind, root, classes, records: DatasetRecord[], missingMasks: string[] (ids),
//      corrupt: Array<{id, path, reason}> (only with verify)}
//   loadImage(record, size?) -> DecodedImage (HWC floats in [0,1]); loadMask(record, size?) ->
//     0/1 Uint8Array, the union of every mask file of the record (null when it has none)
// Detection order: HAM10000_metadata.csv -> ham10000; images/ + masks/ -> kvasir-seg;
// benign/ malignant/ normal/ -> busi; class folders with images -> folder; images directly in
// the folder -> flat (one class).
// Missing masks are listed in `missingMasks`, never dropped; a stage that needs masks says
// how many lack them (`describeMissingMasks`).
import {promises as fs} from 'node:fs'
import {resolve} from 'node:path'
import {UserError, describeFsError} from '../errors.js'
import type {DatasetKind} from './attributes.js'
import {CorruptImageError, decodeImage, decodeMask, decodeRgb8, type DecodedImage} from './image-io.js'
import {type DatasetRecord, type LayoutName, type LayoutResult} from './layouts/common.js'
import {findHamMetadata, readHam10000} from './layouts/ham10000.js'
import {findKvasirFolders, readKvasir} from './layouts/kvasir.js'
import {findBusiRoot, readBusi} from './layouts/busi.js'
import {findClassFolders, hasLooseImages, readFlat, readFolder} from './layouts/folder.js'
import {imageSize} from '../io/images.js'

export type {DatasetRecord, LayoutName}

export interface Dataset {
  layout: LayoutName
  kind: DatasetKind
  root: string
  classes: string[]
  records: DatasetRecord[]
  /** ids of records without any mask file */
  missingMasks: string[]
  /** images that failed to decode (verify: true with onCorrupt: 'skip'); not in records */
  corrupt: Array<{id: string; path: string; reason: string}>
}

export interface LoadOptions {
  layout?: 'auto' | LayoutName
  /** modality; 'auto' = from the layout (folder: dermoscopy) */
  kind?: 'auto' | DatasetKind
  /** decode every image once now, so a corrupt file is found before a long stage starts */
  verify?: boolean
  /** what a corrupt image does when found: stop with its name (error) or be listed and left out (skip) */
  onCorrupt?: 'error' | 'skip'
  concurrency?: number
}

const layoutKinds: Record<LayoutName, DatasetKind> = {
  'ham10000': 'dermoscopy',
  'kvasir-seg': 'polyp',
  'busi': 'ultrasound',
  'folder': 'dermoscopy',
  'flat': 'dermoscopy'
}
const readers: Record<LayoutName, (root: string) => Promise<LayoutResult>> = {
  'ham10000': readHam10000,
  'kvasir-seg': readKvasir,
  'busi': readBusi,
  'folder': readFolder,
  'flat': readFlat
}

export async function detectLayout(root: string): Promise<LayoutName> {
  if (await findHamMetadata(root)) return 'ham10000'
  if (await findKvasirFolders(root)) return 'kvasir-seg'
  if (await findBusiRoot(root)) return 'busi'
  if ((await findClassFolders(root)).length > 0) return 'folder'
  if (await hasLooseImages(root)) return 'flat'
  throw new UserError(
    `${root}: no known dataset layout (expected HAM10000_metadata.csv, images/ + masks/ (Kvasir-SEG), ` +
      'benign/ malignant/ normal/ (BUSI), <class>/<image> folders, or images directly in the folder)'
  )
}

export async function loadDataset(path: string, opts: LoadOptions = {}): Promise<Dataset> {
  const root = resolve(path)
  let stat
  try {
    stat = await fs.stat(root)
  } catch (err) {
    throw describeFsError(err, root) ?? err
  }
  if (!stat.isDirectory()) throw new UserError(`${root}: not a folder; give the dataset's folder`)
  const layout = !opts.layout || opts.layout === 'auto' ? await detectLayout(root) : opts.layout
  const {classes, records} = await readers[layout](root)
  if (records.length === 0) throw new UserError(`${root}: empty dataset (no images found in the ${layout} layout)`)
  const kind = !opts.kind || opts.kind === 'auto' ? layoutKinds[layout] : opts.kind
  const dataset: Dataset = {
    layout,
    kind,
    root,
    classes,
    records,
    missingMasks: records.filter(r => r.masks.length === 0).map(r => r.id),
    corrupt: []
  }
  if (opts.verify) await verifyImages(dataset, opts.onCorrupt ?? 'error', opts.concurrency ?? 8)
  return dataset
}

/** Decodes every image (and mask) once; corrupt ones throw or are moved to `dataset.corrupt`. */
export async function verifyImages(dataset: Dataset, onCorrupt: 'error' | 'skip', concurrency = 8): Promise<void> {
  const bad = new Map<string, {id: string; path: string; reason: string}>()
  let next = 0
  const worker = async () => {
    while (next < dataset.records.length) {
      const r = dataset.records[next++]
      try {
        const image = await decodeRgb8(r.image)
        for (const m of r.masks) {
          const mask = await decodeMask(m)
          if (mask.width !== image.width || mask.height !== image.height) {
            throw new UserError(
              `${m}: mask is ${mask.width}×${mask.height} but its image ${r.image} is ${image.width}×${image.height}`
            )
          }
        }
      } catch (err) {
        if (!(err instanceof CorruptImageError) || onCorrupt === 'error') throw err
        bad.set(r.id, {id: r.id, path: err.path, reason: err.message})
      }
    }
  }
  await Promise.all(Array.from({length: Math.max(1, concurrency)}, worker))
  if (bad.size === 0) return
  dataset.records = dataset.records.filter(r => !bad.has(r.id))
  dataset.missingMasks = dataset.missingMasks.filter(id => !bad.has(id))
  dataset.corrupt = [...bad.values()]
  if (dataset.records.length === 0) throw new UserError(`${dataset.root}: every image is corrupt or unreadable`)
}

export async function loadImage(
  record: DatasetRecord,
  size?: number | {width: number; height: number; fit?: 'fill' | 'cover'}
): Promise<DecodedImage> {
  return decodeImage(record.image, typeof size === 'number' ? {width: size, height: size} : size)
}

/** Width and height from the file header (no decoding); null when sharp cannot tell. */
async function naturalSize(path: string): Promise<{width: number; height: number} | null> {
  try {
    return await imageSize(path)
  } catch {
    return null
  } // damaged files are reported by the decoder with their own message
}

/** The union of a record's masks as 0/1 (null when it has none), resized when a size is given. */
export async function loadMask(
  record: DatasetRecord,
  size?: number | {width: number; height: number; fit?: 'fill' | 'cover'}
): Promise<Uint8Array | null> {
  if (record.masks.length === 0) return null
  const resize = typeof size === 'number' ? {width: size, height: size} : size
  // A mask drawn for another image size would be silently stretched by the resize: refuse it.
  const imageDims = await naturalSize(record.image)
  for (const path of record.masks) {
    const maskDims = await naturalSize(path)
    if (imageDims && maskDims && (maskDims.width !== imageDims.width || maskDims.height !== imageDims.height)) {
      throw new UserError(
        `${path}: mask is ${maskDims.width}×${maskDims.height} but its image ${record.image} is ${imageDims.width}×${imageDims.height}`
      )
    }
  }
  let union: Uint8Array | null = null
  let dims: {width: number; height: number} | null = null
  for (const path of record.masks) {
    const m = await decodeMask(path, resize)
    if (!union) {
      union = m.data
      dims = m
    } else {
      if (m.width !== dims!.width || m.height !== dims!.height)
        throw new UserError(
          `${path}: mask is ${m.width}×${m.height}, ${record.masks[0]} is ${dims!.width}×${dims!.height}`
        )
      for (let i = 0; i < union.length; i++) union[i] |= m.data[i]
    }
  }
  return union
}

/** One line for stage logs and manifests: "12 of 300 images have no mask (first: a, b, c)". */
export function describeMissingMasks(dataset: Dataset): string | null {
  const n = dataset.missingMasks.length
  if (n === 0) return null
  return `${n} of ${dataset.records.length} images have no mask (first: ${dataset.missingMasks.slice(0, 3).join(', ')})`
}
