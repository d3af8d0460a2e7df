// The alignment figure (paper Fig. 3): t-SNE of text and visual features before and after
// alignment, one row per state, coloured by modality (left) and by class (right). Text points
// are triangles, visual points circles. Drawn as SVG, rendered to PNG.
import {svgToPng} from '../../io/images.js'
import {writeFileAtomic} from '../../io/atomic.js'
import {plotStyle} from '../../util/plot.js'

export interface TsnePanelData {
  title: string
  /** [n*2] embedding */
  points: ArrayLike<number>
  modality: Array<'text' | 'visual'>
  classes: string[]
}

// medgen's one plot style (src/util/plot.ts): its font, and its palette for modalities and classes
const MODALITY_COLOURS = {text: plotStyle.palette[1], visual: plotStyle.palette[0]}
const CLASS_COLOURS = plotStyle.palette

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function marker(x: number, y: number, colour: string, modality: 'text' | 'visual'): string {
  if (modality === 'visual')
    return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.2" fill="${colour}" fill-opacity="0.75"/>`
  const s = 4
  return `<path d="M${x.toFixed(1)},${(y - s).toFixed(1)} L${(x + s).toFixed(1)},${(y + s * 0.8).toFixed(1)} L${(x - s).toFixed(1)},${(y + s * 0.8).toFixed(1)} Z" fill="${colour}" fill-opacity="0.75"/>`
}

function panel(
  data: TsnePanelData,
  colourBy: 'modality' | 'class',
  x0: number,
  y0: number,
  size: number,
  classOrder: string[]
): string {
  const n = data.modality.length
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, data.points[2 * i])
    maxX = Math.max(maxX, data.points[2 * i])
    minY = Math.min(minY, data.points[2 * i + 1])
    maxY = Math.max(maxY, data.points[2 * i + 1])
  }
  const pad = 28
  const spanX = Math.max(maxX - minX, 1e-9)
  const spanY = Math.max(maxY - minY, 1e-9)
  const sx = (v: number) => x0 + pad + ((v - minX) / spanX) * (size - 2 * pad)
  const sy = (v: number) => y0 + pad + 12 + ((v - minY) / spanY) * (size - 2 * pad - 12)
  const parts = [
    `<rect x="${x0 + 4}" y="${y0 + 4}" width="${size - 8}" height="${size - 8}" fill="#ffffff" stroke="#999999"/>`,
    `<text x="${x0 + size / 2}" y="${y0 + 22}" font-family="${plotStyle.font}" font-size="14" text-anchor="middle">${esc(data.title)} — by ${colourBy}</text>`
  ]
  // visual points first, so the text triangles drawn over them stay visible once aligned
  const order = [...Array(n).keys()].sort(
    (a, b) => (data.modality[a] === 'visual' ? 0 : 1) - (data.modality[b] === 'visual' ? 0 : 1)
  )
  for (const i of order) {
    const colour =
      colourBy === 'modality'
        ? MODALITY_COLOURS[data.modality[i]]
        : CLASS_COLOURS[classOrder.indexOf(data.classes[i]) % CLASS_COLOURS.length]
    parts.push(marker(sx(data.points[2 * i]), sy(data.points[2 * i + 1]), colour, data.modality[i]))
  }
  return parts.join('\n')
}

function legend(classOrder: string[], y: number, width: number): string {
  const items: Array<[string, string, 'text' | 'visual']> = [
    ['text', MODALITY_COLOURS.text, 'text'],
    ['visual', MODALITY_COLOURS.visual, 'visual'],
    ...classOrder.map((c, i) => [c, CLASS_COLOURS[i % CLASS_COLOURS.length], 'visual'] as [string, string, 'visual'])
  ]
  const step = Math.min(110, width / Math.max(1, items.length))
  return items
    .map(
      ([label, colour, m], i) =>
        `${marker(16 + i * step, y, colour, m)}<text x="${26 + i * step}" y="${y + 4}" font-family="${plotStyle.font}" font-size="12">${esc(label)}</text>`
    )
    .join('\n')
}

export function tsneFigureSvg(panels: TsnePanelData[]): string {
  const size = 420
  const classOrder = [...new Set(panels.flatMap(p => p.classes))].sort()
  const width = 2 * size
  const height = panels.length * size + 40
  const body = panels.map(
    (p, row) =>
      panel(p, 'modality', 0, row * size, size, classOrder) +
      '\n' +
      panel(p, 'class', size, row * size, size, classOrder)
  )
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<rect width="100%" height="100%" fill="#f7f7f7"/>
${body.join('\n')}
${legend(classOrder, panels.length * size + 20, width)}
</svg>`
}

export async function writeTsneFigure(path: string, panels: TsnePanelData[]): Promise<void> {
  await writeFileAtomic(path, await svgToPng(tsneFigureSvg(panels)))
}
