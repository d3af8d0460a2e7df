// Tiny dermoscopy look-alikes for the visual tests and scripts: a skin-coloured background with
// noise and a darker ellipse (the lesion, its mask) of random size, place, angle and colour.
import {Rng} from '../../src/util/rng.js'
import type {SplitName, VisualData} from '../../src/stages/visual/data.js'
import {minMaxNormalize} from '../../src/models/sdnet/normalize.js'

export interface SyntheticImage {
  rgb: Uint8Array
  mask: Uint8Array
  skin: number[]
  lesion: number[]
}

export function syntheticLesion(size: number, rng: Rng): SyntheticImage {
  const skin = [rng.range(185, 240), rng.range(135, 195), rng.range(110, 175)]
  const lesion = [rng.range(60, 150), rng.range(30, 95), rng.range(20, 80)]
  const cx = rng.range(0.3, 0.7) * size
  const cy = rng.range(0.3, 0.7) * size
  const ax = rng.range(0.12, 0.3) * size
  const ay = rng.range(0.12, 0.3) * size
  const angle = rng.range(0, Math.PI)
  const cos = Math.cos(angle)
  const sin = Math.sin(angle)
  const rgb = new Uint8Array(size * size * 3)
  const mask = new Uint8Array(size * size)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - cx
      const dy = y + 0.5 - cy
      const u = (dx * cos + dy * sin) / ax
      const v = (-dx * sin + dy * cos) / ay
      const r2 = u * u + v * v
      const inside = r2 <= 1
      const p = y * size + x
      mask[p] = inside ? 1 : 0
      const shade = inside ? 0.75 + 0.25 * r2 : 1 // darker centre
      for (let c = 0; c < 3; c++) {
        const base = inside ? lesion[c] * shade : skin[c]
        rgb[p * 3 + c] = Math.max(0, Math.min(255, Math.round(base + rng.normal() * 6)))
      }
    }
  }
  return {rgb, mask, skin, lesion}
}

/** n images of side `size`; the first fraction train, then val, then test. */
export function syntheticVisualData(
  n: number,
  size: number,
  seed: number,
  fractions = {val: 0.1, test: 0.2}
): VisualData & {raw: SyntheticImage[]} {
  const rng = new Rng(seed)
  const px = size * size
  const images = new Float32Array(n * px * 3)
  const masks = new Float32Array(n * px)
  const splits: SplitName[] = []
  const ids: string[] = []
  const raw: SyntheticImage[] = []
  const nTest = Math.round(n * fractions.test)
  const nVal = Math.round(n * fractions.val)
  for (let i = 0; i < n; i++) {
    const img = syntheticLesion(size, rng)
    raw.push(img)
    minMaxNormalize(img.rgb, images, i * px * 3)
    masks.set(img.mask, i * px)
    ids.push(`syn_${String(i).padStart(5, '0')}`)
    splits.push(i < n - nTest - nVal ? 'train' : i < n - nTest ? 'val' : 'test')
  }
  return {size, ids, splits, images, masks, raw}
}
