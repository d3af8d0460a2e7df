// Controllability on data with known attributes (docs/DESIGN.md "Metrics", issue 19): each
// generated image is segmented by the trained segmentation head, its attributes are measured with
// the measured captioner's code (src/caption/measure.ts) and compared with the attributes its
// prompt asked for. The accuracy is only meaningful next to its references, measured here with the
// same segmenter and measurement (src/metrics/control-score.ts):
//   shuffled.withinClass / shuffled.all — the same images against prompts permuted among them;
//   ceiling.real — real test images against their own captions;
//   ceiling.decoded — the same real images through the generator's decoder (VAE round trip at the
//                     generator's resolution; for a pixel-space DiT, resized to it);
//   gain — (accuracy − shuffled.withinClass) / (ceiling − shuffled.withinClass), ceiling = decoded
//          when there is one (what the generator could reach at best), else real.
// Disentanglement over pairs in the manifest (generate.swapPairs makes them):
//   style swap  — same seed and anatomy words, different style words: mean mask IoU (1 = the
//                 anatomy did not move when only the style words changed);
//   anatomy swap — same seed and style words, different anatomy words: mean ΔE (CIE76) between
//                 the lesion-core mean colours (0 = colour unaffected) and colour-word agreement.
import {join} from 'node:path'
import type {MedgenConfig} from '../../config/schema.js'
import {pathExists} from '../../io/atomic.js'
import {readSampleLines} from '../generate/records.js'
import {decodeImage, type ResizeOptions} from '../../data/image-io.js'
import {measureAttributes, type Measurement} from '../../caption/measure.js'
import {UNKNOWN, attributeGroups, type Attributes, type DatasetKind} from '../../data/attributes.js'
import {progress} from '../../util/progress.js'
import {
  attributeAccuracy,
  controlGain,
  groupFigures,
  shuffledAccuracy,
  type GroupFigures,
  type ScoredImage
} from '../../metrics/control-score.js'
import type {MetricResult} from './image-metrics.js'
import {loadSegmenter} from '../../models/sdnet/segmenter.js'
import {runLayout} from '../../run/layout.js'
import {realControlSet, decoderRoundTrip, type RoundTrip} from './control-references.js'

export interface ControlImage {
  data: Float32Array
  width: number
  height: number
}
/** Lesion mask (0/1, width*height) of an image: the trained segmentation head in the stage. */
export type Segmenter = (image: ControlImage) => Promise<Uint8Array>

export interface ControlRecord {
  id: string
  path: string
  seed: number
  class: string
  attributes: Attributes
}

export const controlDefinition =
  'control: generated images from prompts with known attributes are segmented by the trained segmentation head ' +
  '(visual/model.safetensors) and measured with the measured captioner (src/caption/measure.ts); perAttributeAccuracy = fraction of images whose ' +
  'measured value equals the prompted one (prompted "unknown" skipped). shuffled = the same images scored against their prompts permuted uniformly ' +
  'within class (withinClass) or across all (all), as the exact expectation over permutations; ceiling.real = real test images against their own ' +
  "captions, ceiling.decoded = the same images through the generator's VAE (encode mean, decode) at its resolution (pixel DiT: resized to it); " +
  'gain = (accuracy - shuffled.withinClass) / (ceiling - shuffled.withinClass) with ceiling = decoded if present else real (null when the span < 0.02). ' +
  'styleSwapMaskIoU = mean mask IoU over pairs with the same seed and anatomy words but different style words; anatomySwapColourDeltaE = mean CIE76 ' +
  'ΔE between lesion-core mean colours over pairs with the same seed and style words but different anatomy words, anatomySwapColourAgreement = ' +
  'fraction of those pairs whose measured colour word is equal.'

export function maskIoU(a: Uint8Array, b: Uint8Array): number {
  let inter = 0,
    union = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i] > 0,
      y = b[i] > 0
    if (x && y) inter++
    if (x || y) union++
  }
  return union === 0 ? 1 : inter / union
}

const pick = (a: Attributes, names: string[]) => JSON.stringify(names.map(n => a[n] ?? UNKNOWN))

interface Measured {
  masks: Uint8Array[]
  measured: Measurement[]
}

/** Segments and measures images one by one; `load` gives each image (decoded, or decoded then round-tripped). */
async function measureAll(
  n: number,
  load: (i: number) => Promise<ControlImage>,
  kind: DatasetKind,
  segment: Segmenter,
  label: string
): Promise<Measured> {
  const masks: Uint8Array[] = [],
    measured: Measurement[] = []
  const bar = progress(label, n)
  try {
    for (let i = 0; i < n; i++) {
      const img = await load(i)
      const mask = await segment(img)
      masks.push(mask)
      measured.push(measureAttributes(img, mask, kind))
      bar.tick()
    }
  } finally {
    bar.stop()
  }
  return {masks, measured}
}

/** Real images and their captions' attributes, scored with the same segmenter and measurement. */
export interface ControlReferences {
  real?: {paths: string[]; attributes: Attributes[]}
  /** the generator's decoder round trip (and its resolution), for ceiling.decoded */
  roundTrip?: RoundTrip
}

const round4 = (v: number | null): number | null => (v === null ? null : Math.round(v * 1e4) / 1e4)
const rounded = (g: GroupFigures) => ({
  anatomy: round4(g.anatomy),
  style: round4(g.style),
  perAttribute: Object.fromEntries(Object.entries(g.perAttribute).map(([k, v]) => [k, round4(v)]))
})

export async function controlMetrics(
  records: ControlRecord[],
  kind: DatasetKind,
  segment: Segmenter,
  refs: ControlReferences = {}
): Promise<MetricResult> {
  const groups = attributeGroups[kind]
  const anatomyNames = Object.keys(groups.anatomy),
    styleNames = Object.keys(groups.style)
  const names = [...anatomyNames, ...styleNames]
  const figures = (p: Record<string, number>) => groupFigures(p, anatomyNames, styleNames)

  const {masks, measured} = await measureAll(
    records.length,
    i => decodeImage(records[i].path),
    kind,
    segment,
    'control: generated images'
  )
  const scored: ScoredImage[] = records.map((r, i) => ({
    wanted: r.attributes,
    measured: measured[i].attributes,
    group: r.class
  }))
  const accuracy = figures(attributeAccuracy(scored, names))
  const shuffled = {
    withinClass: figures(shuffledAccuracy(scored, names, im => im.group)),
    all: figures(shuffledAccuracy(scored, names, () => 'all'))
  }

  const ceiling: {real?: GroupFigures; decoded?: GroupFigures} = {}
  if (refs.real && refs.real.paths.length > 0) {
    const {paths, attributes} = refs.real
    const score = (m: Measured) =>
      figures(
        attributeAccuracy(
          m.measured.map((x, i) => ({wanted: attributes[i], measured: x.attributes, group: ''})),
          names
        )
      )
    ceiling.real = score(
      await measureAll(paths.length, i => decodeImage(paths[i]), kind, segment, 'control: real test images')
    )
    const trip = refs.roundTrip
    if (trip) {
      const resize: ResizeOptions = {width: trip.size, height: trip.size, fit: 'cover'}
      ceiling.decoded = score(
        await measureAll(
          paths.length,
          async i => trip.apply(await decodeImage(paths[i], resize)),
          kind,
          segment,
          'control: decoded real images'
        )
      )
    }
  }
  const top = ceiling.decoded ?? ceiling.real
  const gain = top ? controlGain(accuracy, shuffled.withinClass, top) : null

  // Swap pairs: same seed, same words in one group, different words in the other.
  const ious: number[] = [],
    deltaE: number[] = []
  let colourAgree = 0,
    anatomyPairs = 0
  for (let i = 0; i < records.length; i++) {
    for (let j = i + 1; j < records.length; j++) {
      const a = records[i],
        b = records[j]
      if (a.seed !== b.seed) continue
      const sameAnatomy = pick(a.attributes, anatomyNames) === pick(b.attributes, anatomyNames)
      const sameStyle = pick(a.attributes, styleNames) === pick(b.attributes, styleNames)
      if (sameAnatomy && !sameStyle && masks[i].length === masks[j].length) ious.push(maskIoU(masks[i], masks[j]))
      if (sameStyle && !sameAnatomy) {
        anatomyPairs++
        const la = measured[i].measures.meanLab,
          lb = measured[j].measures.meanLab
        if (la && lb) deltaE.push(Math.hypot(la[0] - lb[0], la[1] - lb[1], la[2] - lb[2]))
        if (measured[i].attributes.colour === measured[j].attributes.colour) colourAgree++
      }
    }
  }
  const mean = (v: number[]) => (v.length ? v.reduce((x, y) => x + y, 0) / v.length : null)
  const all = Object.values(accuracy.perAttribute)
  return {
    value: all.length ? all.reduce((x, y) => x + y, 0) / all.length : undefined,
    definition: controlDefinition,
    nGen: records.length,
    kind,
    perAttributeAccuracy: accuracy.perAttribute,
    anatomyAccuracy: accuracy.anatomy,
    styleAccuracy: accuracy.style,
    shuffled: {withinClass: rounded(shuffled.withinClass), all: rounded(shuffled.all)},
    ceiling: {
      ...(ceiling.real ? {real: rounded(ceiling.real), nReal: refs.real!.paths.length} : {}),
      ...(ceiling.decoded ? {decoded: rounded(ceiling.decoded), decoder: refs.roundTrip!.description} : {})
    },
    gain: gain && {
      anatomy: round4(gain.anatomy),
      style: round4(gain.style),
      perAttribute: Object.fromEntries(Object.entries(gain.perAttribute).map(([k, v]) => [k, round4(v)])),
      ceilingUsed: ceiling.decoded ? 'decoded' : 'real'
    },
    styleSwapPairs: ious.length,
    styleSwapMaskIoU: mean(ious),
    anatomySwapPairs: anatomyPairs,
    anatomySwapColourDeltaE: mean(deltaE),
    anatomySwapColourAgreement: anatomyPairs ? colourAgree / anatomyPairs : null
  }
}

/** The trained segmentation head (train-visual's SDNet anatomy encoder + segmentor). */
async function visualSegmenter(runDir: string): Promise<{segment: Segmenter; dispose: () => void}> {
  const seg = await loadSegmenter(runLayout(runDir).visual.model)
  return {
    segment: img =>
      seg.segmentRgb(
        Uint8Array.from(img.data, v => Math.round(v * 255)),
        img.width,
        img.height
      ),
    dispose: () => seg.dispose()
  }
}

export async function computeControl(
  config: MedgenConfig,
  runDir: string,
  segmenter?: Segmenter
): Promise<MetricResult> {
  const manifest = runLayout(runDir).samples.manifest
  if (config.eval.samples)
    return {
      definition: controlDefinition,
      skipped: "needs the run's own samples (prompted attributes are in samples/manifest.jsonl), not --samples"
    }
  if (!(await pathExists(manifest)))
    return {definition: controlDefinition, skipped: `needs ${manifest}; run \`medgen generate\``}
  const rows = await readSampleLines(manifest)
  const records = rows
    .filter(r => r.attributes && Object.keys(r.attributes).length > 0)
    .map(r => ({id: r.id, path: join(runDir, r.file), seed: r.seed, class: String(r.class), attributes: r.attributes!}))
  if (records.length === 0)
    return {
      definition: controlDefinition,
      skipped: 'no generated image has prompted attributes (synth data with measured captions gives them)'
    }
  const kind = (config.data.kind !== 'auto' ? config.data.kind : config.synth.kind) as DatasetKind
  let dispose: (() => void) | undefined
  if (!segmenter) {
    const model = runLayout(runDir).visual.model
    if (!(await pathExists(model)))
      return {definition: controlDefinition, skipped: `needs ${model}; run \`medgen train-visual\``}
    const loaded = await visualSegmenter(runDir)
    segmenter = loaded.segment
    dispose = loaded.dispose
  }
  const refs: ControlReferences = {}
  try {
    refs.real = await realControlSet(config, runDir)
    refs.roundTrip = (await decoderRoundTrip(config, runDir)) ?? undefined
    return await controlMetrics(records, kind, segmenter, refs)
  } finally {
    dispose?.()
    refs.roundTrip?.dispose()
  }
}
