// Reads the run's dataset for the visual stage: every image resized to the model side and
// min-max normalised, its mask (union of mask files), and its split from <run>/split.json.
import type {MedgenConfig} from '../../config/schema.js'
import {describeMissingMasks, loadDataset, loadMask} from '../../data/dataset.js'
import {decodeRgb8} from '../../data/image-io.js'
import {ensureSplit, splitOptionsOf} from '../../data/split.js'
import {log} from '../../util/log.js'
import {progress} from '../../util/progress.js'
import type {VisualData} from './data.js'
import {minMaxNormalize} from '../../models/sdnet/normalize.js'
import {datasetPathOf} from '../../run/layout.js'

export async function loadVisualData(config: MedgenConfig, runDir: string, size: number): Promise<VisualData> {
  const dataset = await loadDataset(datasetPathOf(config), {layout: config.data.layout, kind: config.data.kind})
  const missing = describeMissingMasks(dataset)
  // BUSI "normal" images have no lesion and hence no mask file: an empty mask is the truth there
  if (missing) log.warn(`train-visual: ${missing}; they train with an empty lesion mask`)
  const split = await ensureSplit(runDir, dataset, splitOptionsOf(config))
  const n = dataset.records.length
  const px = size * size
  const data: VisualData = {
    size,
    ids: [],
    splits: [],
    images: new Float32Array(n * px * 3),
    masks: new Float32Array(n * px)
  }
  const bar = progress('train-visual: loading images', n)
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      const r = dataset.records[i]
      // authors: OpenCV INTER_AREA to a square, aspect not kept (docs/REFERENCE.md §3.1); sharp fill + lanczos here
      const img = await decodeRgb8(r.image, {width: size, height: size})
      minMaxNormalize(img.data, data.images, i * px * 3)
      const mask = await loadMask(r, size)
      if (mask) data.masks.set(mask, i * px)
      bar.tick()
    }
  }
  await Promise.all(Array.from({length: 8}, worker))
  bar.stop()
  for (const r of dataset.records) {
    data.ids.push(r.id)
    data.splits.push(split.assignments[r.id])
  }
  return data
}
