// text/metrics.json figures: cosine between each text head and its visual target (before and
// after training, per split), linear probes of the caption attributes from each head, and
// the t-SNE panels with their neighbour statistics.
import {linearProbe, type ProbeResult} from './probe.js'
import {neighbourAgreement, tsne} from '../../util/tsne.js'
import {Rng} from '../../util/rng.js'
import type {TsnePanelData} from './tsne-figure.js'

/** paper §2.1: Anatomy = shape, border, symmetry, size; Style = colour distribution, texture */
export const ANATOMY_ATTRIBUTES = ['shape', 'border', 'symmetry', 'size']
export const STYLE_ATTRIBUTES = ['colour', 'secondaryColour', 'texture']

/** widths of the anatomy and style vectors (they differ with visual.anatomyVector 'occupancy+shape') */
export interface FeatureDims {
  anatomyDim: number
  styleDim: number
}

export function meanCosine(a: Float32Array, b: Float32Array, d: number, rows: number[]): number {
  if (!rows.length) return NaN
  let total = 0
  for (const r of rows) {
    let dot = 0,
      na = 0,
      nb = 0
    for (let k = 0; k < d; k++) {
      const x = a[r * d + k],
        y = b[r * d + k]
      dot += x * y
      na += x * x
      nb += y * y
    }
    total += dot / Math.sqrt((na + 1e-12) * (nb + 1e-12))
  }
  return total / rows.length
}

export interface ProbeTable {
  [attribute: string]: {group: 'anatomy' | 'style' | 'other'; fromAnatomyHead: ProbeResult; fromStyleHead: ProbeResult}
}

export function probeAttributes(
  attributes: Array<Record<string, string> | null>,
  anatomy: Float32Array,
  style: Float32Array,
  dims: FeatureDims,
  trainRows: number[],
  testRows: number[]
): ProbeTable {
  const names = [...new Set(attributes.flatMap(a => (a ? Object.keys(a) : [])))].sort()
  const out: ProbeTable = {}
  for (const name of names) {
    const labels = attributes.map(a => a?.[name] ?? '')
    const tr = trainRows.filter(r => labels[r] !== '' && labels[r] !== 'unknown')
    const te = testRows.filter(r => labels[r] !== '' && labels[r] !== 'unknown')
    if (new Set(tr.map(r => labels[r])).size < 2 || te.length === 0) continue
    out[name] = {
      group: ANATOMY_ATTRIBUTES.includes(name) ? 'anatomy' : STYLE_ATTRIBUTES.includes(name) ? 'style' : 'other',
      fromAnatomyHead: linearProbe(anatomy, dims.anatomyDim, labels, tr, te),
      fromStyleHead: linearProbe(style, dims.styleDim, labels, tr, te)
    }
  }
  return out
}

/** Concatenation of the L2-normalised anatomy and style parts (only direction is trained, docs/REFERENCE.md §4.4). */
function directionRow(a: Float32Array, s: Float32Array, dims: FeatureDims, r: number): number[] {
  const unit = (v: Float32Array, d: number) => {
    const row = Array.from(v.subarray(r * d, (r + 1) * d))
    const n = Math.sqrt(row.reduce((x, y) => x + y * y, 0)) || 1
    return row.map(x => x / n)
  }
  return [...unit(a, dims.anatomyDim), ...unit(s, dims.styleDim)]
}

export interface TsneSummary {
  points: number
  modalityNeighbourAgreement: number
  classNeighbourAgreement: number
}

/**
 * One panel: text points (heads' outputs) and visual points (targets) of the chosen captions,
 * embedded jointly. Neighbour agreement by modality near 1 means the two modalities lie apart;
 * near the text share of points (0.5) means they are mixed.
 */
export function tsnePanel(
  title: string,
  rows: number[],
  classes: string[],
  text: {anatomy: Float32Array; style: Float32Array},
  visual: {anatomy: Float32Array; style: Float32Array},
  dims: FeatureDims,
  opts: {perplexity: number; iterations: number; seed: number}
): {panel: TsnePanelData; summary: TsneSummary} {
  const data: number[] = []
  const modality: Array<'text' | 'visual'> = []
  const cls: string[] = []
  for (const r of rows) {
    data.push(...directionRow(text.anatomy, text.style, dims, r))
    modality.push('text')
    cls.push(classes[r])
  }
  for (const r of rows) {
    data.push(...directionRow(visual.anatomy, visual.style, dims, r))
    modality.push('visual')
    cls.push(classes[r])
  }
  const points = tsne(data, modality.length, dims.anatomyDim + dims.styleDim, {
    perplexity: opts.perplexity,
    iterations: opts.iterations,
    seed: opts.seed
  })
  return {
    panel: {title, points, modality, classes: cls},
    summary: {
      points: modality.length,
      modalityNeighbourAgreement: neighbourAgreement(points, modality),
      classNeighbourAgreement: neighbourAgreement(points, cls)
    }
  }
}

/** Up to `count` rows, held-out ones first, in a seeded order. */
export function pickFigureRows(trainRows: number[], heldOutRows: number[], count: number, seed: number): number[] {
  const rng = new Rng(seed).fork('align-text-tsne')
  const held = rng.shuffle([...heldOutRows])
  const train = rng.shuffle([...trainRows])
  return [...held, ...train].slice(0, count).sort((a, b) => a - b)
}
