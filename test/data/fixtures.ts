// Small dataset folders in each real layout, built by the tests themselves.
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {encodeJpeg, encodePng} from '../../src/io/images.js'
import {tmpDir} from '../helpers/tmp.js'

export const S = 16

/** A size×size RGB image whose pixels encode `tag` (so tests can tell images apart). */
export function pattern(tag: number, size = S): Uint8Array {
  const px = new Uint8Array(size * size * 3)
  for (let i = 0; i < size * size; i++) {
    px[3 * i] = (tag * 40) % 256
    px[3 * i + 1] = (i * 7 + tag) % 256
    px[3 * i + 2] = 128
  }
  return px
}

/** A 0/255 mask: a filled box [x0,x1)×[y0,y1). */
export function box(x0: number, y0: number, x1: number, y1: number, size = S): Uint8Array {
  const m = new Uint8Array(size * size)
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * size + x] = 255
  return m
}

export async function writeImage(path: string, tag: number, format: 'jpeg' | 'png' = 'jpeg'): Promise<void> {
  await fs.mkdir(join(path, '..'), {recursive: true})
  await fs.writeFile(
    path,
    await (format === 'jpeg' ? encodeJpeg(pattern(tag), S, S, 3) : encodePng(pattern(tag), S, S, 3))
  )
}

export async function writeMask(path: string, mask: Uint8Array, format: 'jpeg' | 'png' = 'png'): Promise<void> {
  await fs.mkdir(join(path, '..'), {recursive: true})
  await fs.writeFile(path, await (format === 'jpeg' ? encodeJpeg(mask, S, S, 1) : encodePng(mask, S, S, 1)))
}

/** HAM10000: 6 images over 4 lesions in part_1/part_2, ISIC_0000003 without a mask. */
export async function hamFixture(): Promise<string> {
  const root = tmpDir('medgen-ham-')
  const rows = [
    ['HAM_0000001', 'ISIC_0000001', 'nv'],
    ['HAM_0000001', 'ISIC_0000002', 'nv'],
    ['HAM_0000002', 'ISIC_0000003', 'mel'],
    ['HAM_0000003', 'ISIC_0000004', 'bkl'],
    ['HAM_0000004', 'ISIC_0000005', 'nv'],
    ['HAM_0000004', 'ISIC_0000006', 'nv']
  ]
  await fs.writeFile(
    join(root, 'HAM10000_metadata.csv'),
    'lesion_id,image_id,dx,dx_type,age,sex,localization\n' +
      rows.map(([l, i, d]) => `${l},${i},${d},histo,50.0,male,"lower extremity"`).join('\n') +
      '\n'
  )
  for (const [k, [, id]] of rows.entries()) {
    await writeImage(join(root, k < 3 ? 'HAM10000_images_part_1' : 'HAM10000_images_part_2', `${id}.jpg`), k)
    if (id !== 'ISIC_0000003')
      await writeMask(join(root, 'HAM10000_segmentations_lesion_tschandl', `${id}_segmentation.png`), box(2, 2, 10, 10))
  }
  return root
}

export async function kvasirFixture(): Promise<string> {
  const root = tmpDir('medgen-kvasir-')
  for (const [k, id] of [
    'cju0qkwl35piu0993l0dewei2',
    'cju0s690hkp960855tjuaqvv0',
    'cju0sr5ghl0nd08789uzf1raf'
  ].entries()) {
    await writeImage(join(root, 'images', `${id}.jpg`), k)
    await writeMask(join(root, 'masks', `${id}.jpg`), box(4, 4, 12, 12), 'jpeg')
  }
  return root
}

/** BUSI: benign (1) has its mask split over _mask.png and _mask_1.png; normal has an empty mask. */
export async function busiFixture(): Promise<string> {
  const root = tmpDir('medgen-busi-')
  await writeImage(join(root, 'benign', 'benign (1).png'), 1, 'png')
  await writeMask(join(root, 'benign', 'benign (1)_mask.png'), box(0, 0, 4, 4))
  await writeMask(join(root, 'benign', 'benign (1)_mask_1.png'), box(10, 10, 14, 14))
  await writeImage(join(root, 'benign', 'benign (2).png'), 2, 'png')
  await writeMask(join(root, 'benign', 'benign (2)_mask.png'), box(4, 4, 8, 8))
  await writeImage(join(root, 'malignant', 'malignant (1).png'), 3, 'png')
  await writeMask(join(root, 'malignant', 'malignant (1)_mask.png'), box(2, 2, 12, 12))
  await writeImage(join(root, 'normal', 'normal (1).png'), 4, 'png')
  await writeMask(join(root, 'normal', 'normal (1)_mask.png'), box(0, 0, 0, 0))
  return root
}

export async function folderFixture(): Promise<string> {
  const root = tmpDir('medgen-folder-')
  await writeImage(join(root, 'cats', 'a.jpg'), 1)
  await writeMask(join(root, 'cats', 'a_mask.png'), box(1, 1, 5, 5))
  await writeImage(join(root, 'cats', 'b.png'), 2, 'png')
  await writeImage(join(root, 'dogs', 'c.jpg'), 3)
  return root
}

/** Overwrites a JPEG with its first half: the header decodes, the pixels do not. */
export async function truncate(path: string): Promise<void> {
  const bytes = await fs.readFile(path)
  await fs.writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)))
}
