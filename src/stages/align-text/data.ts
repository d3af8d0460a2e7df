// align-text's inputs (DEVELOPING.md contracts): captions/captions.jsonl joined by id with
// visual/features.safetensors (anatomy vector [N,A] with A = 8 occupancies or 24 with shape,
// style mu [N,S], __metadata__.ids). The widths are read from the tensors' shapes.
// Captions without visual features are skipped with a warning, as the authors' dataset does
// (docs/REFERENCE.md §4.2).
import {UserError} from '../../errors.js'
import {readCaptionLines} from '../../caption/records.js'
import {readSafetensors, readSafetensorsMetadata} from '../../io/safetensors.js'
import {toFloat32} from '../../io/tensor-map.js'
import {log} from '../../util/log.js'
import {runLayout} from '../../run/layout.js'

export interface CaptionRow {
  id: string
  class: string
  split: string
  caption: string
  attributes: Record<string, string> | null
}

export interface JoinedCaptions {
  rows: CaptionRow[]
  /** visual targets aligned with rows, [n*anatomyDim] and [n*styleDim] */
  anatomy: Float32Array
  style: Float32Array
  anatomyDim: number
  styleDim: number
  /** visual.anatomyVector that made the targets (__metadata__.anatomyVector; null in older runs = occupancy) */
  anatomyVector: string | null
}

export interface FeatureFile {
  ids: string[]
  anatomy: Float32Array
  style: Float32Array
  anatomyDim: number
  styleDim: number
  anatomyVector: string | null
}

/** visual/ or text/features.safetensors: anatomy [N,A] and style [N,S] (A and S may differ), ids in the metadata. */
export async function readVisualFeatures(path: string): Promise<FeatureFile> {
  const tensors = await readSafetensors(path)
  const meta = await readSafetensorsMetadata(path)
  const anatomy = tensors.get('anatomy')
  const style = tensors.get('style')
  if (!anatomy || !style)
    throw new UserError(`${path}: needs tensors anatomy and style (got ${[...tensors.keys()].join(', ') || 'none'})`)
  if (
    anatomy.shape.length !== 2 ||
    style.shape.length !== 2 ||
    anatomy.shape[0] !== style.shape[0] ||
    anatomy.shape[1] < 1 ||
    style.shape[1] < 1
  ) {
    throw new UserError(
      `${path}: anatomy [${anatomy.shape}] and style [${style.shape}] must be [N, A] and [N, S] with the same N`
    )
  }
  let ids: unknown
  try {
    ids = JSON.parse(meta.ids ?? 'null')
  } catch {
    ids = null
  }
  if (!Array.isArray(ids) || ids.length !== anatomy.shape[0]) {
    throw new UserError(`${path}: __metadata__.ids must be a JSON list of ${anatomy.shape[0]} image ids`)
  }
  return {
    ids: ids.map(String),
    anatomy: toFloat32(anatomy),
    style: toFloat32(style),
    anatomyDim: anatomy.shape[1],
    styleDim: style.shape[1],
    anatomyVector: meta.anatomyVector ?? null
  }
}

export async function readCaptions(path: string): Promise<CaptionRow[]> {
  return (await readCaptionLines(path)).map(r => ({
    id: r.id,
    class: r.class ?? '',
    split: r.split ?? 'train',
    caption: r.caption,
    attributes: r.attributes ?? null
  }))
}

export async function loadAlignmentInputs(runDir: string): Promise<JoinedCaptions> {
  const {
    captions: {jsonl: captionsPath},
    visual: {features: featuresPath}
  } = runLayout(runDir)
  const captions = await readCaptions(captionsPath)
  const visual = await readVisualFeatures(featuresPath)
  const index = new Map(visual.ids.map((id, i) => [id, i]))
  const {anatomyDim: ad, styleDim: sd} = visual
  const seen = new Set<string>()
  const rows: CaptionRow[] = []
  const anatomy: number[] = []
  const style: number[] = []
  let missing = 0
  for (const row of captions) {
    if (seen.has(row.id)) continue // a later duplicate (resumed captioning) is ignored
    seen.add(row.id)
    const i = index.get(row.id)
    if (i === undefined) {
      missing++
      continue
    }
    rows.push(row)
    for (let k = 0; k < ad; k++) anatomy.push(visual.anatomy[i * ad + k])
    for (let k = 0; k < sd; k++) style.push(visual.style[i * sd + k])
  }
  if (missing) log.warn(`align-text: ${missing} captions have no visual features in ${featuresPath}; skipped`)
  if (rows.length === 0) throw new UserError(`${captionsPath}: no caption id matches an image id in ${featuresPath}`)
  return {
    rows,
    anatomy: Float32Array.from(anatomy),
    style: Float32Array.from(style),
    anatomyDim: ad,
    styleDim: sd,
    anatomyVector: visual.anatomyVector
  }
}
