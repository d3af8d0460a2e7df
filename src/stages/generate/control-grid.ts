// samples/control-grid.png, the control figure (issue 19 item 2): the cells generate made for
// --control-grid (ids control-r<row>-c<column>, one seed), laid out with the words that change
// along each axis: a row per anatomy value (size, then shape), a column per colour. The first row
// of labels names what the rest of the prompt keeps.
import {join} from 'node:path'
import {writeFileAtomic} from '../../io/atomic.js'
import {runLayout} from '../../run/layout.js'
import {composePng, encodePng, readRgb8} from '../../io/images.js'
import {escapeXml, wrapText} from '../../util/contact-sheet.js'
import {controlGridColumn, controlGridRows} from './items.js'
import type {SampleRecord} from './records.js'

const tile = 96
const gap = 4
const labelW = 120
const headerH = 34
const fontSize = 12

const cellOf = (id: string): [number, number] | null => {
  const m = /^control-r(\d+)-c(\d+)$/.exec(id)
  return m ? [Number(m[1]), Number(m[2])] : null
}

/** Writes the figure when the manifest has control-grid cells; returns the path, or null. */
export async function writeControlGrid(runDir: string, records: SampleRecord[]): Promise<string | null> {
  const cells = records.filter(r => r.source === 'control-grid' && cellOf(r.id) && r.attributes)
  if (cells.length === 0) return null
  const rows = Math.max(...cells.map(r => cellOf(r.id)![0])) + 1
  const cols = Math.max(...cells.map(r => cellOf(r.id)![1])) + 1
  const rowNames = controlGridRows.flatMap(([name, values]) => values.map(v => `${name}: ${v}`))
  const colNames: string[] = new Array(cols).fill('')
  const kept = cells[0]
  for (const r of cells) colNames[cellOf(r.id)![1]] = r.attributes![controlGridColumn] ?? ''
  const width = labelW + cols * (tile + gap) + gap
  const footerLines = 3
  const height = headerH + rows * (tile + gap) + gap + footerLines * (fontSize + 3) + 6
  const composites: Array<{input: Buffer; left: number; top: number}> = []
  const texts: string[] = []
  for (const r of cells) {
    const [row, col] = cellOf(r.id)!
    const img = await readRgb8(join(runDir, r.file), {size: tile, fit: 'cover', kernel: 'nearest', alpha: 'drop'})
    composites.push({
      input: await encodePng(img.data, img.width, img.height, 3),
      left: labelW + gap + col * (tile + gap),
      top: headerH + gap + row * (tile + gap)
    })
  }
  colNames.forEach((name, col) =>
    texts.push(
      `<text x="${labelW + gap + col * (tile + gap) + tile / 2}" y="${headerH - 8}" text-anchor="middle">${escapeXml(name)}</text>`
    )
  )
  for (let row = 0; row < rows; row++) {
    texts.push(
      `<text x="6" y="${headerH + gap + row * (tile + gap) + tile / 2 + 4}">${escapeXml(rowNames[row] ?? `row ${row}`)}</text>`
    )
  }
  const a = kept.attributes!
  const rest = Object.entries(a)
    .filter(([k]) => k !== controlGridColumn && !controlGridRows.some(([n]) => n === k))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  texts.push(
    `<text x="6" y="14" font-weight="bold">${escapeXml(`${kept.class}, one seed (${kept.seed}); columns: colour; rows: one anatomy word`)}</text>`
  )
  const footer = wrapText(
    `kept: ${rest}; guidance ${kept.guidance}, ${kept.sampler} ${kept.steps} steps`,
    Math.floor(width / (fontSize * 0.58)),
    footerLines
  )
  const footerTop = headerH + rows * (tile + gap) + gap
  footer.forEach((line, j) =>
    texts.push(`<text x="6" y="${footerTop + (j + 1) * (fontSize + 3)}">${escapeXml(line)}</text>`)
  )
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<g font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="#222">${texts.join('')}</g></svg>`
  composites.push({input: Buffer.from(svg), left: 0, top: 0})
  const png = await composePng(width, height, composites)
  const path = runLayout(runDir).samples.controlGrid
  await writeFileAtomic(path, png)
  return path
}
