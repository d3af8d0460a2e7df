// Controllability on data with known attributes (issue 9 item 4; docs/DESIGN.md "The embedded
// default"): each generated image is segmented by the trained segmentation head, its attributes
// are measured with the measured captioner's code (src/caption/measure.ts), and compared with
// the attributes its prompt asked for. Disentanglement checks over pairs in the manifest:
//   style swap  — same seed and anatomy words, different style words: mean mask IoU (1 = the
//                 anatomy did not move when only the style words changed);
//   anatomy swap — same seed and style words, different anatomy words: mean ΔE (CIE76) between
//                 the lesion-core mean colours (0 = colour unaffected) and colour-word agreement.
import {join} from 'node:path'
import type {MedgenConfig} from '../../config/schema.js'
import {pathExists} from '../../io/atomic.js'
import {readSampleLines} from '../generate/records.js'
import {decodeImage} from '../../data/image-io.js'
import {measureAttributes, type Measurement} from '../../caption/measure.js'
import {UNKNOWN, attributeGroups, type Attributes, type DatasetKind} from '../../data/attributes.js'
import {progress} from '../../util/progress.js'
import type {MetricResult} from './image-metrics.js'
import {loadSegmenter} from '../../models/sdnet/segmenter.js'
import {runLayout} from '../../run/layout.js'

export interface ControlImage { data: Float32Array, width: number, height: number }
/** Lesion mask (0/1, width*height) of an image: the trained segmentation head in the stage. */
export type Segmenter = (image: ControlImage) => Promise<Uint8Array>

export interface ControlRecord { id: string, path: string, seed: number, attributes: Attributes }

export const controlDefinition = 'control: generated images from prompts with known attributes are segmented by the trained segmentation head ' +
  '(visual/model.safetensors) and measured with the measured captioner (src/caption/measure.ts); perAttributeAccuracy = fraction of images whose ' +
  'measured value equals the prompted one (prompted "unknown" skipped). styleSwapMaskIoU = mean mask IoU over pairs with the same seed and anatomy ' +
  'words but different style words; anatomySwapColourDeltaE = mean CIE76 ΔE between lesion-core mean colours over pairs with the same seed and style ' +
  'words but different anatomy words, anatomySwapColourAgreement = fraction of those pairs whose measured colour word is equal.'

export function maskIoU(a: Uint8Array, b: Uint8Array): number {
  let inter = 0, union = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i] > 0, y = b[i] > 0
    if (x && y) inter++
    if (x || y) union++
  }
  return union === 0 ? 1 : inter / union
}

const pick = (a: Attributes, names: string[]) => JSON.stringify(names.map(n => a[n] ?? UNKNOWN))

export async function controlMetrics(records: ControlRecord[], kind: DatasetKind, segment: Segmenter): Promise<MetricResult> {
  const groups = attributeGroups[kind]
  const anatomyNames = Object.keys(groups.anatomy), styleNames = Object.keys(groups.style)
  const masks: Uint8Array[] = []
  const measured: Measurement[] = []
  const hits: Record<string, {correct: number, total: number}> = {}
  const bar = progress('control: segment + measure', records.length)
  for (const r of records) {
    const img = await decodeImage(r.path)
    const mask = await segment({data: img.data, width: img.width, height: img.height})
    const m = measureAttributes(img, mask, kind)
    masks.push(mask); measured.push(m)
    for (const [name, want] of Object.entries(r.attributes)) {
      if (want === UNKNOWN || !(name in m.attributes)) continue
      const h = hits[name] ??= {correct: 0, total: 0}
      h.total++
      if (m.attributes[name] === want) h.correct++
    }
    bar.tick()
  }
  bar.stop()
  const perAttributeAccuracy = Object.fromEntries(Object.entries(hits).map(([k, h]) => [k, h.correct / h.total]))
  const meanOf = (names: string[]) => {
    const v = names.filter(n => n in perAttributeAccuracy).map(n => perAttributeAccuracy[n])
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null
  }
  // Swap pairs: same seed, same words in one group, different words in the other.
  const ious: number[] = [], deltaE: number[] = []
  let colourAgree = 0, anatomyPairs = 0
  for (let i = 0; i < records.length; i++) {
    for (let j = i + 1; j < records.length; j++) {
      const a = records[i], b = records[j]
      if (a.seed !== b.seed) continue
      const sameAnatomy = pick(a.attributes, anatomyNames) === pick(b.attributes, anatomyNames)
      const sameStyle = pick(a.attributes, styleNames) === pick(b.attributes, styleNames)
      if (sameAnatomy && !sameStyle && masks[i].length === masks[j].length) ious.push(maskIoU(masks[i], masks[j]))
      if (sameStyle && !sameAnatomy) {
        anatomyPairs++
        const la = measured[i].measures.meanLab, lb = measured[j].measures.meanLab
        if (la && lb) deltaE.push(Math.hypot(la[0] - lb[0], la[1] - lb[1], la[2] - lb[2]))
        if (measured[i].attributes.colour === measured[j].attributes.colour) colourAgree++
      }
    }
  }
  const mean = (v: number[]) => (v.length ? v.reduce((x, y) => x + y, 0) / v.length : null)
  return {
    value: meanOf([...anatomyNames, ...styleNames]) ?? undefined,
    definition: controlDefinition, nGen: records.length, kind,
    perAttributeAccuracy, anatomyAccuracy: meanOf(anatomyNames), styleAccuracy: meanOf(styleNames),
    styleSwapPairs: ious.length, styleSwapMaskIoU: mean(ious),
    anatomySwapPairs: anatomyPairs, anatomySwapColourDeltaE: mean(deltaE), anatomySwapColourAgreement: anatomyPairs ? colourAgree / anatomyPairs : null,
  }
}

/** The trained segmentation head (train-visual's SDNet anatomy encoder + segmentor). */
async function visualSegmenter(runDir: string): Promise<{segment: Segmenter, dispose: () => void}> {
  const seg = await loadSegmenter(runLayout(runDir).visual.model)
  return {
    segment: img => seg.segmentRgb(Uint8Array.from(img.data, v => Math.round(v * 255)), img.width, img.height),
    dispose: () => seg.dispose(),
  }
}

export async function computeControl(config: MedgenConfig, runDir: string, segmenter?: Segmenter): Promise<MetricResult> {
  const manifest = runLayout(runDir).samples.manifest
  if (config.eval.samples) return {definition: controlDefinition, skipped: 'needs the run\'s own samples (prompted attributes are in samples/manifest.jsonl), not --samples'}
  if (!(await pathExists(manifest))) return {definition: controlDefinition, skipped: `needs ${manifest}; run \`medgen generate\``}
  const rows = await readSampleLines(manifest)
  const records = rows.filter(r => r.attributes && Object.keys(r.attributes).length > 0)
    .map(r => ({id: r.id, path: join(runDir, r.file), seed: r.seed, attributes: r.attributes!}))
  if (records.length === 0) return {definition: controlDefinition, skipped: 'no generated image has prompted attributes (synth data with measured captions gives them)'}
  const kind = (config.data.kind !== 'auto' ? config.data.kind : config.synth.kind) as DatasetKind
  let dispose: (() => void) | undefined
  if (!segmenter) {
    const model = runLayout(runDir).visual.model
    if (!(await pathExists(model))) return {definition: controlDefinition, skipped: `needs ${model}; run \`medgen train-visual\``}
    const loaded = await visualSegmenter(runDir)
    segmenter = loaded.segment
    dispose = loaded.dispose
  }
  try { return await controlMetrics(records, kind, segmenter) } finally { dispose?.() }
}
