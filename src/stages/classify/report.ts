// classify's written results: mean ± std across seeds per protocol, the markdown comparison
// table (with per-seed values), and the confusion matrix as a PNG (an SVG rendered to PNG).
import {svgToPng} from '../../io/images.js'
import {plotStyle} from '../../util/plot.js'
import {writeFileAtomic} from '../../io/atomic.js'
import type {ClassificationReport} from '../../metrics/classification.js'
import type {BaccBootstrap} from '../../metrics/bacc-bootstrap.js'

export const headline = [
  'f1Weighted',
  'balancedAccuracy',
  'aucOvrMacro',
  'accuracy',
  'f1Macro',
  'aucOvrWeighted',
  'aucOvoMacro'
] as const
export type Headline = (typeof headline)[number]

export interface SeedResult {
  seed: number
  report: ClassificationReport
  epochsRun: number
  bestEpoch: number
  stoppedEarly: boolean
  trainImages: number
  syntheticPerClass?: Record<string, number>
  /** predicted class of every real test image, in test-set order (for the BACC bootstrap) */
  testPredictions?: number[]
  /** classify config slice, run seed and (with generated images) samples this result was trained on */
  fingerprint?: string
}

export interface Summary {
  mean: number | null
  std: number | null
  perSeed: Array<number | null>
}

export function summarise(results: SeedResult[], key: Headline): Summary {
  const perSeed = results.map(r => r.report[key] as number | null)
  const vals = perSeed.filter((v): v is number => v !== null && Number.isFinite(v))
  if (vals.length === 0) return {mean: null, std: null, perSeed}
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length
  // sample std (ddof 1) across seeds; 0 for a single seed
  const std = vals.length > 1 ? Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (vals.length - 1)) : 0
  return {mean, std, perSeed}
}

const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3))

/** Balanced accuracy of a predictor that ignores the image (one class for all, or at random): 1/k. */
export const chanceBacc = (numClasses: number): number => 1 / numClasses

/**
 * True when a protocol's mean BACC is within 1.5x of chance: the classifier has not learned
 * (e.g. it predicts the majority class for every image, BACC exactly 1/k).
 */
export function nearChance(meanBacc: number | null, numClasses: number): boolean {
  return meanBacc === null || meanBacc < 1.5 * chanceBacc(numClasses)
}

/** report.html's warning for the protocols of classify/metrics.json flagged nearChance ('' when none). */
export function nearChanceWarningHtml(metrics: unknown): string {
  const m = metrics as {
    chance?: {balancedAccuracy: number}
    protocols?: Record<string, {nearChance?: boolean; summary?: {balancedAccuracy?: Summary}}>
  }
  const flagged = Object.entries(m?.protocols ?? {}).filter(([, p]) => p.nearChance)
  if (flagged.length === 0 || !m.chance) return ''
  const items = flagged
    .map(([name, p]) => `${esc(name)} (BACC ${fmt(p.summary?.balancedAccuracy?.mean ?? null)})`)
    .join(', ')
  return `<p class="warning" style="color:#a00;font-weight:bold">⚠ classify: ${items} within 1.5× of chance (BACC ${fmt(m.chance.balancedAccuracy)} = 1/${Math.round(1 / m.chance.balancedAccuracy)}): this classifier has not learned; its comparison says nothing.</p>`
}

export function comparisonTable(byProtocol: Record<string, SeedResult[]>): string {
  const cols: Array<[Headline, string]> = [
    ['f1Weighted', 'F1 (weighted)'],
    ['balancedAccuracy', 'BACC'],
    ['aucOvrMacro', 'AUC (OvR macro)'],
    ['accuracy', 'accuracy'],
    ['f1Macro', 'F1 (macro)']
  ]
  const lines = [
    `| protocol | ${cols.map(c => c[1]).join(' | ')} | seeds |`,
    `| --- | ${cols.map(() => '---').join(' | ')} | --- |`
  ]
  for (const [protocol, results] of Object.entries(byProtocol)) {
    const cells = cols.map(([k]) => {
      const s = summarise(results, k)
      return s.mean === null ? 'n/a' : `${fmt(s.mean)} ± ${fmt(s.std)}`
    })
    lines.push(`| ${protocol} | ${cells.join(' | ')} | ${results.length} |`)
  }
  lines.push(
    '',
    'Per-seed values:',
    '',
    `| protocol | seed | ${cols.map(c => c[1]).join(' | ')} | train images | best epoch |`,
    `| --- | --- | ${cols.map(() => '---').join(' | ')} | --- | --- |`
  )
  for (const [protocol, results] of Object.entries(byProtocol)) {
    for (const r of results)
      lines.push(
        `| ${protocol} | ${r.seed} | ${cols.map(([k]) => fmt(r.report[k] as number | null)).join(' | ')} | ${r.trainImages} | ${r.bestEpoch} |`
      )
  }
  return lines.join('\n') + '\n'
}

/** The test-set bootstrap as markdown: how much of a BACC difference the test set alone could make. */
export function bootstrapTable(b: BaccBootstrap): string {
  const ci = (v: {value: number; lo: number; hi: number}) => `${fmt(v.value)} [${fmt(v.lo)}, ${fmt(v.hi)}]`
  const lines = [
    `BACC with its 95% interval over the test set (stratified bootstrap, ${b.rounds} resamples, seeds pooled):`,
    '',
    `| protocol | BACC [95% interval] | minus ${b.reference} [paired 95% interval] |`,
    '| --- | --- | --- |'
  ]
  for (const [p, v] of Object.entries(b.protocols))
    lines.push(`| ${p} | ${ci(v)} | ${b.differences[p] ? ci(b.differences[p]) : '–'} |`)
  return lines.join('\n') + '\n'
}

const esc = (s: string) => s.replace(/[<>&"]/g, c => ({'<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;'})[c]!)

/** Row-normalised confusion matrix heat map with counts, as a PNG. */
export async function writeConfusionPng(path: string, cm: number[][], classes: string[], title: string): Promise<void> {
  const k = classes.length,
    cell = 44,
    left = 90,
    top = 60
  const w = left + k * cell + 20,
    h = top + k * cell + 50
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="white"/>`,
    `<text x="${w / 2}" y="22" font-family="${plotStyle.font}" font-size="14" text-anchor="middle">${esc(title)}</text>`
  ]
  for (let i = 0; i < k; i++) {
    const rowSum = cm[i].reduce((a, b) => a + b, 0)
    for (let j = 0; j < k; j++) {
      const frac = rowSum > 0 ? cm[i][j] / rowSum : 0
      const shade = Math.round(255 - 200 * frac)
      parts.push(
        `<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#999"/>`
      )
      parts.push(
        `<text x="${left + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 5}" font-family="${plotStyle.font}" font-size="12" text-anchor="middle" fill="${frac > 0.6 ? 'white' : 'black'}">${cm[i][j]}</text>`
      )
    }
    parts.push(
      `<text x="${left - 6}" y="${top + i * cell + cell / 2 + 5}" font-family="${plotStyle.font}" font-size="12" text-anchor="end">${esc(classes[i])}</text>`
    )
    parts.push(
      `<text x="${left + i * cell + cell / 2}" y="${top - 8}" font-family="${plotStyle.font}" font-size="11" text-anchor="middle">${esc(classes[i])}</text>`
    )
  }
  parts.push(
    `<text x="${left + (k * cell) / 2}" y="${h - 18}" font-family="${plotStyle.font}" font-size="12" text-anchor="middle">predicted (columns) · true (rows)</text></svg>`
  )
  await writeFileAtomic(path, await svgToPng(parts.join('')))
}
