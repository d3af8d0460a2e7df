// Line plots as PNG: an SVG drawn here and rendered to PNG (src/io/images.ts svgToPng), so
// training curves need no plotting dependency. Every loss and Dice curve of medgen is drawn here.
import {svgToPng} from '../io/images.js'

export interface PlotSeries {
  name: string
  points: Array<[number, number]>
  /** CSS colour; a palette colour by index when absent */
  color?: string
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

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, c => ({'<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', '\'': '&apos;'})[c]!)
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) ?? raw
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

function fmt(v: number): string {
  const a = Math.abs(v)
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(1) : String(Number(v.toPrecision(4)))
}

/** The SVG text of a line plot (exposed for tests and for embedding). */
export function linePlotSvg(series: PlotSeries[], opts: PlotOptions = {}): string {
  const W = opts.width ?? 640
  const H = opts.height ?? 360
  const m = {left: 64, right: 16, top: opts.title ? 32 : 14, bottom: 44}
  const ty = (y: number) => (opts.logY ? Math.log10(y) : y)
  const pts = series.map(s => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logY || y > 0)))
  const all = pts.flat()
  let [x0, x1] = all.length ? [Math.min(...all.map(p => p[0])), Math.max(...all.map(p => p[0]))] : [0, 1]
  let [y0, y1] = opts.yRange ? opts.yRange.map(ty) as [number, number] : all.length ? [Math.min(...all.map(p => ty(p[1]))), Math.max(...all.map(p => ty(p[1])))] : [0, 1]
  if (x1 === x0) { x0 -= 0.5; x1 += 0.5 }
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5 }
  if (!opts.yRange) { const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad }
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right)
  const py = (y: number) => H - m.bottom - ((ty(y) - y0) / (y1 - y0)) * (H - m.top - m.bottom)
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`]
  if (opts.title) parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(opts.title)}</text>`)
  for (const t of niceTicks(x0, x1)) {
    parts.push(`<line x1="${px(t)}" y1="${m.top}" x2="${px(t)}" y2="${H - m.bottom}" stroke="#eee"/>`,
      `<text x="${px(t)}" y="${H - m.bottom + 14}" text-anchor="middle">${fmt(t)}</text>`)
  }
  for (const t of niceTicks(y0, y1)) {
    const v = opts.logY ? 10 ** t : t
    parts.push(`<line x1="${m.left}" y1="${py(v)}" x2="${W - m.right}" y2="${py(v)}" stroke="#eee"/>`,
      `<text x="${m.left - 6}" y="${py(v) + 4}" text-anchor="end">${fmt(v)}</text>`)
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#444"/>`)
  if (opts.xLabel) parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`)
  if (opts.yLabel) parts.push(`<text x="14" y="${(m.top + H - m.bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(m.top + H - m.bottom) / 2})">${escapeXml(opts.yLabel)}</text>`)
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]
    const p = pts[i]
    if (p.length === 1) parts.push(`<circle cx="${px(p[0][0])}" cy="${py(p[0][1])}" r="3" fill="${color}"/>`)
    else if (p.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${p.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`)
    const ly = m.top + 14 + i * 14
    parts.push(`<line x1="${W - m.right - 120}" y1="${ly - 4}" x2="${W - m.right - 104}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${W - m.right - 100}" y="${ly}">${escapeXml(s.name)}</text>`)
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
  return [{name, points, color: '#bbbbbb'}, {name: `${name}, moving mean of ${k}`, points: smooth, color: '#c0392b'}]
}
