// The loss-curve figure of finetune-dit: an SVG line plot rendered to PNG by sharp (no plotting
// dependency). Raw per-step loss in light grey, a moving average on top.
import sharp from 'sharp'
import {writeFileAtomic} from '../../io/atomic.js'

export function lossCurveSvg(losses: number[], title: string, width = 640, height = 360): string {
  const pad = {l: 60, r: 20, t: 30, b: 40}
  const finite = losses.filter(Number.isFinite)
  const lo = Math.min(...finite, 0)
  const hi = Math.max(...finite, 1e-8)
  const x = (i: number): number => pad.l + (i / Math.max(1, losses.length - 1)) * (width - pad.l - pad.r)
  const y = (v: number): number => pad.t + (1 - (v - lo) / (hi - lo || 1)) * (height - pad.t - pad.b)
  const path = (vals: number[]): string => vals.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('')
  const k = Math.max(1, Math.round(losses.length / 20))
  const smooth = losses.map((_, i) => { const s = losses.slice(Math.max(0, i - k + 1), i + 1); return s.reduce((a, b) => a + b, 0) / s.length })
  const ticks = [lo, (lo + hi) / 2, hi].map(v => `<text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v.toPrecision(3)}</text>`).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-family="sans-serif">${title}</text>` +
    `<line x1="${pad.l}" y1="${height - pad.b}" x2="${width - pad.r}" y2="${height - pad.b}" stroke="black"/>` +
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${height - pad.b}" stroke="black"/>` +
    `<g font-family="sans-serif">${ticks}<text x="${width / 2}" y="${height - 8}" text-anchor="middle" font-size="11">step (${losses.length})</text></g>` +
    `<path d="${path(losses)}" fill="none" stroke="#bbbbbb" stroke-width="1"/>` +
    `<path d="${path(smooth)}" fill="none" stroke="#c0392b" stroke-width="2"/></svg>`
}

export async function writeLossCurvePng(path: string, losses: number[], title: string): Promise<void> {
  const png = await sharp(Buffer.from(lossCurveSvg(losses, title))).png().toBuffer()
  await writeFileAtomic(path, png)
}
