// The dataset as the caption stage sees it: one CaptionItem per image, with its split.
// Reads the dataset through src/data (layout readers, split.json) and nothing else.
import type {MedgenConfig} from '../../config/schema.js'
import {loadDataset} from '../../data/dataset.js'
import {ensureSplit, splitOptionsOf} from '../../data/split.js'
import type {CaptionItem} from '../../caption/captioner.js'
import type {DatasetKind} from '../../data/attributes.js'
import {datasetPathOf} from '../../run/layout.js'

export interface CaptionItems {
  items: CaptionItem[]
  kind: DatasetKind
  missingMasks: number
  datasetPath: string
}

/**
 * Loads the dataset and its split (split.json is made once per run and reused). With
 * `kindOnly`, only the layout is read (no split.json written): used to check the captioner
 * before anything is written.
 */
export async function loadCaptionItems(
  config: MedgenConfig,
  runDir: string,
  opts: {kindOnly?: boolean} = {}
): Promise<CaptionItems> {
  const datasetPath = datasetPathOf(config)
  const dataset = await loadDataset(datasetPath, {layout: config.data.layout, kind: config.data.kind})
  const kind: DatasetKind = dataset.kind
  const missingMasks = dataset.missingMasks.length
  if (opts.kindOnly) return {items: [], kind, missingMasks, datasetPath}
  const split = await ensureSplit(runDir, dataset, splitOptionsOf(config))
  const items: CaptionItem[] = dataset.records.map(r => ({
    id: r.id,
    image: r.image,
    masks: r.masks,
    className: r.className,
    split: split.assignments[r.id] ?? 'train',
    file: r.file
  }))
  return {items, kind, missingMasks, datasetPath}
}
