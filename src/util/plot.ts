// Line plots as PNG: an SVG drawn here and rendered to PNG (src/io/images.ts svgToPng), so
// training curves need no plotting dependency. Every loss and Dice curve of medgen is drawn here.
import {svgToPng} from '../io/images.js'

export interface PlotSeries {
  name: string
  points: Array<[number, number]>
  /** CSS colour; a palette colour by index when absent */
  color?: string
  /** line width in pixels (default 1.5); a wider line drawn first shows under a curve that coincides with it */
  width?: number
}

export interface PlotOptions {
  title?: string
  xLabel?: string
  yLabel?: string
  width?: number
  height?: number
  /** logarithmic y axis (values <= 0 are left out) */
  logY?: boolean
  /** fixed y range; default = data range with a margin */
  yRange?: [number, number]
}

/**
 * The one plot style of medgen's figures (line plots here; the t-SNE figure and the confusion
 * matrices read the same font and palette): white background, grey grid at the ticks, ticks at
 * round values on both axes, the legend under the plot area so it never covers a curve.
 */
export const plotStyle = {
  font: 'DejaVu Sans, sans-serif',
  fontSize: 11,
  titleSize: 13,
  palette: [
    '#1f77b4',
    '#d62728',
    '#2ca02c',
    '#ff7f0e',
    '#9467bd',
    '#8c564b',
    '#e377c2',
    '#17becf',
    '#bcbd22',
    '#7f7f7f'
  ],
  grid: '#e6e6e6',
  frame: '#444444'
} as const

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, c => ({'<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;'})[c]!)
}

/** Tick values at multiples of 1, 2 or 5 x 10^k inside [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5, minStep = 0): number[] {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  // the 1-2-5 step nearest the raw one (d3's thresholds: sqrt(50), sqrt(10), sqrt(2))
  const err = raw / mag
  const step = Math.max(
    minStep,
    mag * (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1)
  )
  const out: number[] = []
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++)
    out.push(Number((k * step).toPrecision(12)))
  return out
}

/**
 * Ticks of a logarithmic axis over [10^lo, 10^hi], as values: the decades when the range holds
 * three or more, 1-2-5 steps when it holds fewer (and those make three); round linear ticks when the
 * range is under one decade.
 */
export function logTicks(lo: number, hi: number): number[] {
  const [a, b] = [10 ** lo, 10 ** hi]
  const inside = (v: number) => v >= a * (1 - 1e-9) && v <= b * (1 + 1e-9)
  const decades: number[] = []
  for (let k = Math.ceil(lo - 1e-9); k <= Math.floor(hi + 1e-9); k++) decades.push(k)
  if (decades.length >= 3) return decades.map(k => Number((10 ** k).toPrecision(12)))
  const withSteps: number[] = []
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++)
    for (const m of [1, 2, 5]) withSteps.push(Number((m * 10 ** k).toPrecision(12)))
  if (withSteps.filter(inside).length >= 3) return withSteps.filter(inside)
  return niceTicks(a, b, 4).filter(v => v > 0)
}

function fmt(v: number): string {
  const a = Math.abs(v)
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(1).replace('.0e', 'e') : String(Number(v.toPrecision(4)))
}

/** Legend entries laid out in rows under the plot: [x, row] per series and the number of rows. */
function legendLayout(names: string[], left: number, right: number): {at: Array<[number, number]>; rows: number} {
  const at: Array<[number, number]> = []
  let x = left,
    row = 0
  for (const name of names) {
    const w = 26 + Math.ceil(name.length * plotStyle.fontSize * 0.6) + 14
    if (x > left && x + w > right) {
      x = left
      row++
    }
    at.push([x, row])
    x += w
  }
  return {at, rows: names.length ? row + 1 : 0}
}

/** The SVG text of a line plot (exposed for tests and for embedding in report.html). */
export function linePlotSvg(series: PlotSeries[], opts: PlotOptions = {}): string {
  const W = opts.width ?? 640
  const H = opts.height ?? 360
  const lineH = 15
  const m = {left: 64, right: 16, top: opts.title ? 32 : 14, bottom: 44}
  const legend = legendLayout(
    series.map(s => s.name),
    m.left,
    W - m.right
  )
  // the legend sits under the x-axis label, inside the asked height: the plot area shrinks
  const plotBottom = H - m.bottom - legend.rows * lineH
  const ty = (y: number) => (opts.logY ? Math.log10(y) : y)
  const pts = series.map(s =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logY || y > 0))
  )
  const all = pts.flat()
  let [x0, x1] = all.length ? [Math.min(...all.map(p => p[0])), Math.max(...all.map(p => p[0]))] : [0, 1]
  let [y0, y1] = opts.yRange
    ? (opts.yRange.map(ty) as [number, number])
    : all.length
      ? [Math.min(...all.map(p => ty(p[1]))), Math.max(...all.map(p => ty(p[1])))]
      : [0, 1]
  // steps and epochs are whole numbers: no tick between two of them, and a curve from step 1 starts the axis at 0
  const wholeX = all.length > 0 && all.every(p => Number.isInteger(p[0]))
  if (wholeX && x0 > 0 && x0 <= (x1 - x0) * 0.05) x0 = 0
  if (x1 === x0) {
    x0 -= 0.5
    x1 += 0.5
  }
  if (y1 === y0) {
    y0 -= 0.5
    y1 += 0.5
  }
  if (!opts.yRange) {
    const pad = (y1 - y0) * 0.05
    y0 -= pad
    y1 += pad
  }
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right)
  const py = (y: number) => plotBottom - ((ty(y) - y0) / (y1 - y0)) * (plotBottom - m.top)
  const f = (v: number) => v.toFixed(1)
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${plotStyle.font}" font-size="${plotStyle.fontSize}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`
  ]
  if (opts.title)
    parts.push(
      `<text x="${W / 2}" y="18" text-anchor="middle" font-size="${plotStyle.titleSize}">${escapeXml(opts.title)}</text>`
    )
  for (const t of niceTicks(x0, x1, 5, wholeX ? 1 : 0)) {
    parts.push(
      `<line x1="${f(px(t))}" y1="${m.top}" x2="${f(px(t))}" y2="${plotBottom}" stroke="${plotStyle.grid}"/>`,
      `<line x1="${f(px(t))}" y1="${plotBottom}" x2="${f(px(t))}" y2="${plotBottom + 4}" stroke="${plotStyle.frame}"/>`,
      `<text x="${f(px(t))}" y="${plotBottom + 16}" text-anchor="middle">${fmt(t)}</text>`
    )
  }
  for (const v of opts.logY ? logTicks(y0, y1) : niceTicks(y0, y1)) {
    parts.push(
      `<line x1="${m.left}" y1="${f(py(v))}" x2="${W - m.right}" y2="${f(py(v))}" stroke="${plotStyle.grid}"/>`,
      `<line x1="${m.left - 4}" y1="${f(py(v))}" x2="${m.left}" y2="${f(py(v))}" stroke="${plotStyle.frame}"/>`,
      `<text x="${m.left - 7}" y="${f(py(v) + 4)}" text-anchor="end">${fmt(v)}</text>`
    )
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${plotBottom - m.top}" fill="none" stroke="${plotStyle.frame}"/>`
  )
  if (opts.xLabel)
    parts.push(
      `<text x="${(m.left + W - m.right) / 2}" y="${plotBottom + 32}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`
    )
  if (opts.yLabel)
    parts.push(
      `<text x="14" y="${(m.top + plotBottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(m.top + plotBottom) / 2})">${escapeXml(opts.yLabel)}</text>`
    )
  series.forEach((s, i) => {
    const color = s.color ?? plotStyle.palette[i % plotStyle.palette.length]
    const p = pts[i]
    if (p.length === 1) parts.push(`<circle cx="${f(px(p[0][0]))}" cy="${f(py(p[0][1]))}" r="3" fill="${color}"/>`)
    else if (p.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="${s.width ?? 1.5}" points="${p.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ')}"/>`
      )
    const [lx, row] = legend.at[i]
    const ly = plotBottom + m.bottom + (row + 1) * lineH - 4
    parts.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${color}" stroke-width="${Math.max(2, s.width ?? 0)}"/>`,
      `<text x="${lx + 25}" y="${ly}">${escapeXml(s.name)}</text>`
    )
  })
  parts.push('</svg>')
  return parts.join('\n')
}

/** Renders a line plot to PNG bytes. */
export async function linePlotPng(series: PlotSeries[], opts: PlotOptions = {}): Promise<Buffer> {
  return svgToPng(linePlotSvg(series, opts))
}

/** A noisy per-step curve as two series: the raw values in light grey, a moving average (1/20 of the run) on top. */
export function rawAndSmoothed(name: string, points: Array<[number, number]>): PlotSeries[] {
  const k = Math.max(1, Math.round(points.length / 20))
  const smooth = points.map(([x], i) => {
    const window = points.slice(Math.max(0, i - k + 1), i + 1)
    return [x, window.reduce((a, p) => a + p[1], 0) / window.length] as [number, number]
  })
  return [
    {name, points, color: '#bbbbbb'},
    {name: `${name}, moving mean of ${k}`, points: smooth, color: '#c0392b'}
  ]
}
