// Training curves in report.html, drawn by the one plotter (src/util/plot.ts) from the numbers a
// stage logged rather than from its PNGs: `<stage dir>/losses.jsonl` (one JSON object per line,
// `{"step": N, "lr": x, "loss": total, "<term>": v, ...}`, written as training goes) wherever a
// training stage wrote one; align-text without one falls back to the per-epoch history of its
// text/metrics.json, so its loss curve is in the report either way.
import {promises as fs} from 'node:fs'
import {join, relative} from 'node:path'
import {stageFiles} from '../run/layout.js'
import {linePlotSvg, type PlotSeries} from '../util/plot.js'
import {esc} from './html.js'

/** One logged step: its step number and every numeric field of the line. */
export interface LossRow { step: number, values: Record<string, number> }

/** A curve source: the rows, where they came from, and lines that could not be read. */
export interface LossLog { source: string, rows: LossRow[], unreadLines: number }

/** The file name every training stage logs its losses to (one per training run). */
export const lossLogName = 'losses.jsonl'

/**
 * Parses losses.jsonl text. A line that is not a JSON object with a finite `step` is counted, not
 * fatal: the last line of a log that training is still writing may be cut short, and a report
 * should show what is there.
 */
export function parseLossLog(text: string, source: string): LossLog {
  const rows: LossRow[] = []
  let unreadLines = 0
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    let parsed: unknown
    try { parsed = JSON.parse(line) } catch { unreadLines++; continue }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) { unreadLines++; continue }
    const {step, ...rest} = parsed as Record<string, unknown>
    if (typeof step !== 'number' || !Number.isFinite(step)) { unreadLines++; continue }
    const values: Record<string, number> = {}
    for (const [k, v] of Object.entries(rest)) if (typeof v === 'number' && Number.isFinite(v)) values[k] = v
    rows.push({step, values})
  }
  return {source, rows, unreadLines}
}

/** Every losses.jsonl under a stage folder (the stage's own, and per-run ones such as classify's seeds), sorted. */
export async function findLossLogs(stageDir: string, depth = 3): Promise<string[]> {
  const found: string[] = []
  const walk = async (dir: string, left: number): Promise<void> => {
    let entries: import('node:fs').Dirent[]
    try { entries = await fs.readdir(dir, {withFileTypes: true}) } catch { return }
    for (const e of entries) {
      if (e.isFile() && e.name === lossLogName) found.push(join(dir, e.name))
      // checkpoints hold copies of a run's state, not another run
      else if (e.isDirectory() && left > 0 && e.name !== 'checkpoints') await walk(join(dir, e.name), left - 1)
    }
  }
  await walk(stageDir, depth)
  return found.sort()
}

/** align-text's per-epoch history in text/metrics.json (training.history), as a loss log. */
export function textHistoryLog(metrics: unknown, source: string): LossLog | null {
  const history = (metrics as {training?: {history?: unknown}} | null)?.training?.history
  if (!Array.isArray(history) || history.length === 0) return null
  const rows: LossRow[] = []
  for (const h of history as Array<Record<string, unknown>>) {
    if (typeof h?.step !== 'number') continue
    const values: Record<string, number> = {}
    for (const k of ['loss', 'align', 'reconstruction']) if (typeof h[k] === 'number' && Number.isFinite(h[k])) values[k] = h[k] as number
    rows.push({step: h.step, values})
  }
  return rows.length ? {source, rows, unreadLines: 0} : null
}

/** The loss series of a log: `loss` (the total) first, then every other term; `lr` is left to the caption. */
export function lossSeries(log: LossLog): PlotSeries[] {
  const names = [...new Set(log.rows.flatMap(r => Object.keys(r.values)))].filter(k => k !== 'lr')
  names.sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : 0))
  return names.map(name => ({name: name === 'loss' ? 'loss (total)' : name,
    points: log.rows.filter(r => name in r.values).map(r => [r.step, r.values[name]] as [number, number])}))
}

/** Log axis when every value is positive and they span more than a factor of 20 (terms of different scales). */
function wantsLogY(series: PlotSeries[]): boolean {
  const ys = series.flatMap(s => s.points.map(p => p[1]))
  return ys.length > 0 && ys.every(y => y > 0) && Math.max(...ys) / Math.min(...ys) > 20
}

/** One figure (an inlined SVG image, so it loads with no server) and its caption. */
export function lossFigure(stage: string, log: LossLog, runDir: string): string {
  const series = lossSeries(log)
  const logY = wantsLogY(series)
  const svg = linePlotSvg(series, {title: `${stage}: training loss`, xLabel: 'step', yLabel: logY ? 'value (log scale)' : 'value', logY})
  const lrs = log.rows.map(r => r.values.lr).filter((v): v is number => typeof v === 'number')
  const num = (v: number) => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3))
  const lr = lrs.length ? `; lr ${num(Math.min(...lrs))} to ${num(Math.max(...lrs))}` : ''
  const unread = log.unreadLines ? `; ${log.unreadLines} line(s) not readable, left out` : ''
  const caption = `${relative(runDir, log.source) || log.source}: ${log.rows.length} logged steps${lr}${unread}`
  return `<figure class="loss"><img alt="${esc(`${stage} training loss`)}" src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}">` +
    `<figcaption>${esc(caption)}</figcaption></figure>`
}

/**
 * The loss figures of one stage folder: one per losses.jsonl found, or for align-text (`text`)
 * the history of its metrics.json when it wrote no log. Empty when the stage logged nothing.
 */
export async function stageLossFigures(stage: string, runDir: string, stageDir: string): Promise<{html: string[], fromLogs: boolean}> {
  const dir = join(runDir, stageDir)
  const logs: LossLog[] = []
  for (const path of await findLossLogs(dir)) {
    const log = parseLossLog(await fs.readFile(path, 'utf8'), path)
    if (log.rows.length) logs.push(log)
  }
  const fromLogs = logs.length > 0
  if (!fromLogs && stage === 'align-text') {
    const metricsPath = join(dir, stageFiles.metrics)
    let metrics: unknown = null
    try { metrics = JSON.parse(await fs.readFile(metricsPath, 'utf8')) } catch { /* no metrics: no curve */ }
    const log = textHistoryLog(metrics, `${metricsPath} (training.history, per epoch)`)
    if (log) logs.push(log)
  }
  return {html: logs.map(log => lossFigure(stage, log, runDir)), fromLogs}
}
