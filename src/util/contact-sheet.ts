// Contact sheets: a grid of images with the prompt under each, one PNG for people to look at
// (issue 8 item 5). Thumbnails are scaled to a common tile (nearest-neighbour when enlarging,
// so 32-px demo samples stay crisp); the captions are SVG text laid over them.
import {writeFileAtomic} from '../io/atomic.js'
import {composePng, encodePng, imageSize, readRgb8} from '../io/images.js'

export interface ContactSheetEntry {
  /** PNG (or any image sharp reads) */
  file: string
  /** text printed under the tile: the prompt */
  label: string
}

export interface ContactSheetOptions {
  title?: string
  /** tile side in pixels */
  tile?: number
  /** at most this many columns */
  columns?: number
  /** at most this many images (the first ones) */
  maxImages?: number
  /** text lines under each tile (default 7: both halves of a caption fit under a 128-px tile) */
  labelLines?: number
}

const fontSize = 11
const lineHeight = 13
const margin = 6

export function escapeXml(s: string): string {
  return (
    s
      .replace(/[<>&'"]/g, c => ({'<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;'})[c] as string)
      // characters XML 1.0 forbids (control codes) would make librsvg reject the whole sheet
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, ' ')
  )
}

/** Greedy word wrap to `maxChars` per line, at most `maxLines` lines (the last ends with "…" if cut). */
export function wrapText(text: string, maxChars: number, maxLines: number): string[] {
  const words = text.split(/\s+/).filter(Boolean)
  const lines: string[] = []
  let current = ''
  let i = 0
  for (; i < words.length; i++) {
    const word = words[i].length > maxChars ? words[i].slice(0, maxChars - 1) + '…' : words[i]
    const next = current ? `${current} ${word}` : word
    if (next.length <= maxChars) {
      current = next
      continue
    }
    lines.push(current)
    current = word
    if (lines.length === maxLines) break
  }
  if (lines.length < maxLines && current) {
    lines.push(current)
    i = words.length
  }
  if (i < words.length && lines.length > 0) {
    const last = lines[lines.length - 1]
    lines[lines.length - 1] = (last.length >= maxChars ? last.slice(0, maxChars - 1) : last) + '…'
  }
  return lines
}

/**
 * The anatomy and style halves of a caption in medgen's form (`<seed sentence>. Anatomy: ….
 * Style: ….`, src/caption/vocab.ts), or null for free text. The seed sentence is left out: the
 * sheet's title names the class it repeats.
 */
export function captionHalves(caption: string): {anatomy: string; style: string} | null {
  const m = /\bAnatomy:\s*(.*?)\.?\s+Style:\s*(.*?)\.?\s*$/s.exec(caption)
  return m ? {anatomy: m[1].trim(), style: m[2].trim()} : null
}

/**
 * The text lines under a tile: a caption with anatomy and style halves shows both, each from
 * its start (the anatomy half gets the lines the style half leaves, the style half at least
 * two), instead of a prefix that the style half never reaches; other text is wrapped as it is.
 */
export function labelLines(label: string, maxChars: number, maxLines: number): string[] {
  const halves = captionHalves(label)
  if (!halves || maxLines < 2) return wrapText(label, maxChars, maxLines)
  const style = wrapText(`Style: ${halves.style}`, maxChars, maxLines)
  const anatomy = wrapText(`Anatomy: ${halves.anatomy}`, maxChars, maxLines)
  const styleLines = Math.min(style.length, Math.max(Math.min(2, maxLines - 1), maxLines - anatomy.length))
  return [
    ...wrapText(`Anatomy: ${halves.anatomy}`, maxChars, maxLines - styleLines),
    ...wrapText(`Style: ${halves.style}`, maxChars, styleLines)
  ]
}

export async function writeContactSheet(
  path: string,
  entries: ContactSheetEntry[],
  options: ContactSheetOptions = {}
): Promise<{images: number; width: number; height: number}> {
  const tile = options.tile ?? 128
  const shown = entries.slice(0, options.maxImages ?? 64)
  if (shown.length === 0) throw new Error(`contact sheet ${path}: no images`)
  const columns = Math.min(options.columns ?? 8, Math.ceil(Math.sqrt(shown.length)))
  const rows = Math.ceil(shown.length / columns)
  const lineCount = options.labelLines ?? 7
  const cellW = tile + margin
  const cellH = tile + lineCount * lineHeight + margin
  const width = columns * cellW + margin
  const titleLines = options.title
    ? wrapText(options.title, Math.max(8, Math.floor((width - 2 * margin) / (fontSize * 0.6))), 3)
    : []
  const titleH = titleLines.length ? titleLines.length * lineHeight + 2 * margin : 0
  const height = titleH + rows * cellH + margin
  const maxChars = Math.max(8, Math.floor(tile / (fontSize * 0.55)))

  const composites: Array<{input: Buffer; left: number; top: number}> = []
  const texts: string[] = []
  titleLines.forEach((line, j) =>
    texts.push(
      `<text x="${margin}" y="${margin + fontSize + j * lineHeight}" font-weight="bold">${escapeXml(line)}</text>`
    )
  )
  for (const [k, entry] of shown.entries()) {
    const left = margin + (k % columns) * cellW
    const top = titleH + margin + Math.floor(k / columns) * cellH
    const enlarging = (await imageSize(entry.file)).width < tile
    const thumb = await readRgb8(entry.file, {
      size: tile,
      fit: 'contain',
      background: '#ffffff',
      kernel: enlarging ? 'nearest' : 'lanczos3',
      alpha: 'drop'
    })
    composites.push({input: await encodePng(thumb.data, thumb.width, thumb.height, 3), left, top})
    labelLines(entry.label, maxChars, lineCount).forEach((line, j) => {
      texts.push(`<text x="${left}" y="${top + tile + (j + 1) * lineHeight - 2}">${escapeXml(line)}</text>`)
    })
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<g font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="#222">${texts.join('')}</g></svg>`
  composites.push({input: Buffer.from(svg), left: 0, top: 0})
  await writeFileAtomic(path, await composePng(width, height, composites))
  return {images: shown.length, width, height}
}
