// `medgen synth`: writes N synthetic samples in the on-disk layout of the real dataset the
// kind imitates, plus attributes.jsonl with the ground truth:
//   dermoscopy -> HAM10000: HAM10000_metadata.csv (lesion_id,image_id,dx,dx_type,age,sex,
//                 localization), HAM10000_images_part_1/ and _part_2/<image_id>.jpg,
//                 HAM10000_segmentations_lesion_tschandl/<image_id>_segmentation.png;
//                 about one lesion in nine has a second image under the same lesion_id
//   polyp      -> Kvasir-SEG: images/<id>.jpg, masks/<id>.jpg
//   ultrasound -> BUSI: <class>/<class> (N).png and <class> (N)_mask.png; a few masses have
//                 their mask split over _mask.png and _mask_1.png, as some BUSI cases do
// Files go to a sibling temp folder that is renamed into place at the end, so an interrupted
// run never leaves a half dataset at the output path (and no per-file fsync slows it down).
import {promises as fs} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'
import {Rng, deriveSeed} from '../../util/rng.js'
import {UserError} from '../../errors.js'
import {pathExists} from '../../io/atomic.js'
import type {DatasetKind} from '../attributes.js'
import {encodeJpeg, encodePng} from '../../io/images.js'
import {drawSample, secondView, type SyntheticSample} from './sample.js'
import type {Placement} from './shape.js'

export interface SynthOptions {
  kind: DatasetKind
  n: number
  size: number
  out: string
  seed: number
  /** lesion position (src/data/synth/shape.ts); default anywhere */
  placement?: Placement
  /** encodes in flight (sharp works on its own thread pool) */
  concurrency?: number
  onImage?: () => void
}

export interface SynthResult {
  out: string
  count: number
  classes: Record<string, number>
  seconds: number
}

interface Planned {
  id: string
  image: string
  masks: string[]
  sample: SyntheticSample
  lesionId?: string
}

const hamDxType: Record<string, string[]> = {
  mel: ['histo'],
  bcc: ['histo'],
  akiec: ['histo'],
  df: ['histo', 'consensus'],
  vasc: ['consensus', 'histo'],
  bkl: ['histo', 'consensus', 'confocal'],
  nv: ['follow_up', 'histo', 'consensus']
}
const localizations = [
  'back',
  'lower extremity',
  'trunk',
  'upper extremity',
  'abdomen',
  'face',
  'chest',
  'foot',
  'neck',
  'scalp',
  'hand'
]
const base36 = (rng: Rng, len: number) =>
  Array.from({length: len}, () => '0123456789abcdefghijklmnopqrstuvwxyz'[rng.int(36)]).join('')

function plan(opts: SynthOptions): {items: Planned[]; csv?: string} {
  const {kind, n, size, seed} = opts
  const placement = opts.placement ?? 'anywhere'
  const rng = new Rng(deriveSeed(seed, 'synth-layout', kind))
  const items: Planned[] = []
  if (kind === 'dermoscopy') {
    const rows = ['lesion_id,image_id,dx,dx_type,age,sex,localization']
    let lesion = 0,
      prev: Planned | null = null
    const half = Math.ceil(n / 2)
    for (let i = 0; i < n; i++) {
      const imageId = `ISIC_${String(24306 + i).padStart(7, '0')}`
      const part = i < half ? 1 : 2
      const secondOf: Planned | null = prev && rng.uniform() < 0.12 ? prev : null
      const sample = secondOf
        ? secondView(kind, secondOf.sample, deriveSeed(seed, 'view', i), size)
        : drawSample(kind, deriveSeed(seed, kind, i), size, placement)
      const lesionId = secondOf ? secondOf.lesionId! : `HAM_${String(lesion++).padStart(7, '0')}`
      const item: Planned = {
        id: imageId,
        image: `HAM10000_images_part_${part}/${imageId}.jpg`,
        masks: [`HAM10000_segmentations_lesion_tschandl/${imageId}_segmentation.png`],
        sample,
        lesionId
      }
      prev = secondOf ? null : item // at most two images per lesion
      items.push(item)
      const dx = sample.className
      rows.push(
        [
          lesionId,
          imageId,
          dx,
          rng.pick(hamDxType[dx] ?? ['histo']),
          String(5 * (3 + rng.int(15))),
          rng.pick(['male', 'female']),
          rng.pick(localizations)
        ].join(',')
      )
    }
    return {items, csv: rows.join('\n') + '\n'}
  }
  if (kind === 'polyp') {
    for (let i = 0; i < n; i++) {
      const id = 'cj' + base36(rng, 23)
      items.push({
        id,
        image: `images/${id}.jpg`,
        masks: [`masks/${id}.jpg`],
        sample: drawSample(kind, deriveSeed(seed, kind, i), size, placement)
      })
    }
    return {items}
  }
  const counters: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const sample = drawSample(kind, deriveSeed(seed, kind, i), size, placement)
    const cls = sample.className
    const k = (counters[cls] = (counters[cls] ?? 0) + 1)
    const id = `${cls} (${k})`
    const split = cls !== 'normal' && rng.uniform() < 0.06
    items.push({
      id,
      image: `${cls}/${id}.png`,
      masks: split ? [`${cls}/${id}_mask.png`, `${cls}/${id}_mask_1.png`] : [`${cls}/${id}_mask.png`],
      sample
    })
  }
  return {items}
}

/** Splits a mask in two by the vertical line through its centroid (their union is the mask). */
function splitMask(mask: Uint8Array, size: number): [Uint8Array, Uint8Array] {
  let sx = 0,
    c = 0
  for (let i = 0; i < mask.length; i++)
    if (mask[i]) {
      sx += i % size
      c++
    }
  const cut = c ? sx / c : size / 2
  const a = new Uint8Array(mask.length),
    b = new Uint8Array(mask.length)
  for (let i = 0; i < mask.length; i++)
    if (mask[i]) {
      if (i % size < cut) a[i] = 1
      else b[i] = 1
    }
  return [a, b]
}

/** The synthetic image or mask in its layout's format (JPEG quality 95, as the real datasets ship). */
const encodeAs = (format: 'jpeg' | 'png', pixels: Uint8Array, size: number, channels: 1 | 3): Promise<Buffer> =>
  format === 'jpeg' ? encodeJpeg(pixels, size, size, channels, 95) : encodePng(pixels, size, size, channels)

const to255 = (m: Uint8Array) => {
  const o = new Uint8Array(m.length)
  for (let i = 0; i < m.length; i++) o[i] = m[i] ? 255 : 0
  return o
}

export async function synthesize(opts: SynthOptions): Promise<SynthResult> {
  const started = Date.now()
  const out = resolve(opts.out)
  if (await pathExists(out)) {
    const entries = await fs.readdir(out).catch(() => {
      throw new UserError(`${out}: exists and is not a folder`)
    })
    if (entries.length > 0 && !entries.includes('attributes.jsonl')) {
      throw new UserError(
        `${out}: exists, is not empty and was not written by medgen synth; choose another --out or remove it`
      )
    }
  }
  const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}`)
  await fs.rm(tmp, {recursive: true, force: true})
  await fs.mkdir(tmp, {recursive: true})
  try {
    const {items, csv} = plan(opts)
    const folders = new Set<string>()
    for (const it of items) {
      folders.add(dirname(it.image))
      for (const m of it.masks) folders.add(dirname(m))
    }
    for (const f of folders) await fs.mkdir(join(tmp, f), {recursive: true})
    const size = opts.size
    const imageFormat = opts.kind === 'ultrasound' ? 'png' : 'jpeg'
    const maskFormat = opts.kind === 'polyp' ? 'jpeg' : 'png'
    const limit = Math.max(1, opts.concurrency ?? 16)
    const inFlight = new Set<Promise<void>>()
    const classes: Record<string, number> = {}
    const lines: string[] = []
    for (const it of items) {
      const s = it.sample
      classes[s.className] = (classes[s.className] ?? 0) + 1
      const masks = it.masks.length === 2 ? splitMask(s.mask, size) : [s.mask]
      lines.push(
        JSON.stringify({
          id: it.id,
          file: it.image,
          masks: it.masks,
          class: s.className,
          ...(it.lesionId ? {lesionId: it.lesionId} : {}),
          attributes: s.attributes,
          params: s.params
        })
      )
      const job = (async () => {
        await fs.writeFile(join(tmp, it.image), await encodeAs(imageFormat, s.rgb, size, 3))
        for (let k = 0; k < masks.length; k++)
          await fs.writeFile(join(tmp, it.masks[k]), await encodeAs(maskFormat, to255(masks[k]), size, 1))
        opts.onImage?.()
      })()
      const tracked = job.finally(() => inFlight.delete(tracked))
      inFlight.add(tracked)
      if (inFlight.size >= limit) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
    if (csv) await fs.writeFile(join(tmp, 'HAM10000_metadata.csv'), csv)
    await fs.writeFile(join(tmp, 'attributes.jsonl'), lines.join('\n') + '\n')
    // Swap into place: the old dataset (if any) moves aside first and is removed last.
    const old = join(dirname(out), `.${basename(out)}.old-${process.pid}`)
    const hadOld = await pathExists(out)
    if (hadOld) await fs.rename(out, old)
    await fs.rename(tmp, out)
    if (hadOld) await fs.rm(old, {recursive: true, force: true})
    return {out, count: items.length, classes, seconds: (Date.now() - started) / 1000}
  } catch (err) {
    await fs.rm(tmp, {recursive: true, force: true}).catch(() => {})
    throw err
  }
}
