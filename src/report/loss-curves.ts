// Training curves in report.html, drawn by the one plotter (src/util/plot.ts) from the numbers a
// stage logged rather than from its PNGs: `<stage dir>/losses.jsonl` (one JSON object per line,
// `{"step": N, "lr": x, "loss": total, "<term>": v, ...}`, written as training goes) wherever a
// training stage wrote one (a second log beside it, dit/vae-losses.jsonl, gets its own figure;
// per-run logs such as classify/runs/<protocol>/seed-<i>/losses.jsonl share one); align-text
// without one falls back to the per-epoch history of its text/metrics.json, so its loss curve is
// in the report either way.
import {promises as fs} from 'node:fs'
import {basename, dirname, join, relative} from 'node:path'
import {stageFiles} from '../run/layout.js'
import {linePlotSvg, type PlotSeries} from '../util/plot.js'
import {esc} from './html.js'

/** One logged step: its step number and every numeric field of the line. */
export interface LossRow {
  step: number
  values: Record<string, number>
}

/** A curve source: the rows, where they came from, and lines that could not be read. */
export interface LossLog {
  source: string
  rows: LossRow[]
  unreadLines: number
}

/** The file name every training stage logs its losses to (one per training run; src/train/losses-log.ts writes it). */
export const lossLogName = stageFiles.losses

/** losses.jsonl, or a stage's second log beside it such as dit/vae-losses.jsonl (the demo VAE's). */
const isLossLog = (name: string): boolean => name === lossLogName || name.endsWith(`-${lossLogName}`)

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
    try {
      parsed = JSON.parse(line)
    } catch {
      unreadLines++
      continue
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      unreadLines++
      continue
    }
    const {step, ...rest} = parsed as Record<string, unknown>
    if (typeof step !== 'number' || !Number.isFinite(step)) {
      unreadLines++
      continue
    }
    const values: Record<string, number> = {}
    for (const [k, v] of Object.entries(rest)) if (typeof v === 'number' && Number.isFinite(v)) values[k] = v
    rows.push({step, values})
  }
  return {source, rows, unreadLines}
}

/** Every loss log under a stage folder (the stage's own, a second one beside it, per-run ones such as classify's seeds), sorted. */
export async function findLossLogs(stageDir: string, depth = 3): Promise<string[]> {
  const found: string[] = []
  const walk = async (dir: string, left: number): Promise<void> => {
    let entries: import('node:fs').Dirent[]
    try {
      entries = await fs.readdir(dir, {withFileTypes: true})
    } catch {
      return
    }
    for (const e of entries) {
      if (e.isFile() && isLossLog(e.name)) found.push(join(dir, e.name))
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
    for (const k of ['loss', 'align', 'reconstruction'])
      if (typeof h[k] === 'number' && Number.isFinite(h[k])) values[k] = h[k] as number
    rows.push({step: h.step, values})
  }
  return rows.length ? {source, rows, unreadLines: 0} : null
}

/** Above this many logged steps a curve is drawn as its moving mean (the raw total stays, in grey). */
const smoothAbove = 200

/** A moving mean over 1/20 of the curve. */
function movingMean(points: Array<[number, number]>): {points: Array<[number, number]>; k: number} {
  const k = Math.max(1, Math.round(points.length / 20))
  let sum = 0
  const out = points.map(([x, y], i) => {
    sum += y
    if (i >= k) sum -= points[i - k][1]
    return [x, sum / Math.min(i + 1, k)] as [number, number]
  })
  return {points: out, k}
}

/**
 * The loss series of a log: `loss` (the total) first, then every other term; `lr` is left to the
 * caption. A long, noisy log shows the raw total in grey under the moving means.
 */
export function lossSeries(log: LossLog): PlotSeries[] {
  const names = [...new Set(log.rows.flatMap(r => Object.keys(r.values)))].filter(k => k !== 'lr')
  names.sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : 0))
  // the total is drawn first and wider: where one term makes up all of it, both stay visible
  const curves = names.map(name => ({
    name: name === 'loss' ? 'loss (total)' : name,
    points: log.rows.filter(r => name in r.values).map(r => [r.step, r.values[name]] as [number, number]),
    ...(name === 'loss' ? {width: 4} : {})
  }))
  if (log.rows.length <= smoothAbove) return curves
  const raw =
    curves[0] && names[0] === 'loss'
      ? [{name: 'loss (total), per step', points: curves[0].points, color: '#bbbbbb'}]
      : []
  return [
    ...raw,
    ...curves.map(c => {
      const {points, k} = movingMean(c.points)
      return {...c, name: `${c.name}, mean of ${k}`, points}
    })
  ]
}

/** The total loss of several runs (classify's protocol x seed trainings) as one series each. */
function runsSeries(logs: LossLog[], stageDir: string): PlotSeries[] {
  return logs.map(log => {
    const points = log.rows.filter(r => 'loss' in r.values).map(r => [r.step, r.values.loss] as [number, number])
    return {
      name: relative(stageDir, log.source)
        .replace(/\/[^/]+$/, '')
        .replace(/^runs\//, ''),
      points: points.length > smoothAbove ? movingMean(points).points : points
    }
  })
}

/** Log axis when every value is positive and they span more than a factor of 20 (terms of different scales). */
function wantsLogY(series: PlotSeries[]): boolean {
  const ys = series.flatMap(s => s.points.map(p => p[1]))
  return ys.length > 0 && ys.every(y => y > 0) && Math.max(...ys) / Math.min(...ys) > 20
}

const lrText = (logs: LossLog[]): string => {
  const lrs = logs.flatMap(l => l.rows.map(r => r.values.lr)).filter((v): v is number => typeof v === 'number')
  const num = (v: number) => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3))
  return lrs.length ? `; lr ${num(Math.min(...lrs))} to ${num(Math.max(...lrs))}` : ''
}

/** One figure (an inlined SVG image, so it loads with no server) and its caption. */
function figure(title: string, series: PlotSeries[], caption: string): string {
  const logY = wantsLogY(series)
  const svg = linePlotSvg(series, {title, xLabel: 'step', yLabel: logY ? 'value (log scale)' : 'value', logY})
  return (
    `<figure class="loss"><img alt="${esc(title)}" src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}">` +
    `<figcaption>${esc(caption)}</figcaption></figure>`
  )
}

/** The figure of one log: every term of it. `part` names a log that is not the stage's own (e.g. "vae"). */
export function lossFigure(stage: string, log: LossLog, runDir: string, part = ''): string {
  const unread = log.unreadLines ? `; ${log.unreadLines} line(s) not readable, left out` : ''
  const caption = `${relative(runDir, log.source) || log.source}: ${log.rows.length} logged steps${lrText([log])}${unread}`
  return figure(`${stage}${part ? ` ${part}` : ''} training loss`, lossSeries(log), caption)
}

/**
 * The loss figures of one stage folder: one per log in the folder itself (losses.jsonl, and e.g.
 * vae-losses.jsonl), one for all per-run logs below it (their total loss, one curve a run), or for
 * align-text (`text`) the history of its metrics.json when it wrote no log. `ownLog` says whether
 * the stage's own losses.jsonl was drawn (then its PNG of the same curve is redundant).
 */
export async function stageLossFigures(
  stage: string,
  runDir: string,
  stageDir: string
): Promise<{html: string[]; ownLog: boolean}> {
  const dir = join(runDir, stageDir)
  const beside: LossLog[] = []
  const perRun: LossLog[] = []
  for (const path of await findLossLogs(dir)) {
    const log = parseLossLog(await fs.readFile(path, 'utf8'), path)
    if (log.rows.length) (dirname(path) === dir ? beside : perRun).push(log)
  }
  const ownLog = beside.some(l => basename(l.source) === lossLogName)
  const html = beside.map(log =>
    lossFigure(
      stage,
      log,
      runDir,
      basename(log.source) === lossLogName ? '' : basename(log.source).slice(0, -(lossLogName.length + 1))
    )
  )
  if (perRun.length) {
    const steps = perRun.reduce((a, l) => a + l.rows.length, 0)
    html.push(
      figure(
        `${stage} training loss, per run`,
        runsSeries(perRun, dir),
        `the ${lossLogName} of ${perRun.length} run${perRun.length === 1 ? '' : 's'} under ${stageDir}/, total loss${perRun.some(l => l.rows.length > smoothAbove) ? ' (moving mean)' : ''}: ${steps} logged steps${lrText(perRun)}`
      )
    )
  }
  if (html.length === 0 && stage === 'align-text') {
    const metricsPath = join(dir, stageFiles.metrics)
    let metrics: unknown = null
    try {
      metrics = JSON.parse(await fs.readFile(metricsPath, 'utf8'))
    } catch {
      /* no metrics: no curve */
    }
    const log = textHistoryLog(metrics, `${metricsPath} (training.history, per epoch)`)
    if (log) html.push(lossFigure(stage, log, runDir))
  }
  return {html, ownLog}
}
