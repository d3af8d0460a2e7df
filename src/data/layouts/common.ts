// Shared pieces of the layout readers: the record type, strict UTF-8 CSV reading, listing
// image files, natural sorting.
import {promises as fs} from 'node:fs'
import {extname, join, relative} from 'node:path'
import {UserError, describeFsError} from '../../errors.js'
import {imageExtensions} from '../../io/images.js'

export type LayoutName = 'ham10000' | 'kvasir-seg' | 'busi' | 'folder' | 'flat'

export interface DatasetRecord {
  /** unique within the dataset; also the key of split.json and captions.jsonl */
  id: string
  /** absolute image path */
  image: string
  /** image path relative to the dataset root (captions.jsonl `file`) */
  file: string
  /** the first mask, or null when the image has none */
  mask: string | null
  /** every mask file of the image (BUSI: _mask, _mask_1, ...); their union is the lesion */
  masks: string[]
  className: string
  /** records sharing a group never straddle a split (HAM10000: lesion_id; else the id) */
  group: string
}

export interface LayoutResult {
  classes: string[]
  records: DatasetRecord[]
}

export function isImageFile(name: string): boolean {
  return imageExtensions.has(extname(name).toLowerCase())
}

export function stemOf(name: string): string {
  const ext = extname(name)
  return ext ? name.slice(0, -ext.length) : name
}

/** "benign (10)" after "benign (9)". */
export const naturalCompare = (a: string, b: string): number => a.localeCompare(b, 'en', {numeric: true})

export async function listDir(dir: string): Promise<Array<{name: string; isDir: boolean; isFile: boolean}>> {
  try {
    const entries = await fs.readdir(dir, {withFileTypes: true})
    return entries
      .filter(e => !e.name.startsWith('.'))
      .map(e => ({name: e.name, isDir: e.isDirectory(), isFile: e.isFile()}))
      .sort((x, y) => naturalCompare(x.name, y.name))
  } catch (err) {
    throw describeFsError(err, dir) ?? err
  }
}

/** Every file under `dir` up to `depth` folder levels, as absolute paths. */
export async function walkFiles(
  dir: string,
  depth: number,
  skipDir: (name: string) => boolean = () => false
): Promise<string[]> {
  const out: string[] = []
  for (const e of await listDir(dir)) {
    const p = join(dir, e.name)
    if (e.isFile) out.push(p)
    else if (e.isDir && depth > 0 && !skipDir(e.name)) out.push(...(await walkFiles(p, depth - 1, skipDir)))
  }
  return out
}

/** Reads a text file that must be UTF-8 (a BOM is dropped). */
export async function readUtf8(path: string): Promise<string> {
  let bytes: Buffer
  try {
    bytes = await fs.readFile(path)
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
  try {
    return new TextDecoder('utf-8', {fatal: true}).decode(bytes).replace(/^\uFEFF/, '')
  } catch {
    throw new UserError(`${path}: not valid UTF-8 text; re-save it as UTF-8`)
  }
}

/** One CSV record and the line of the file it starts on (a quoted field may span lines). */
export interface CsvRow {
  line: number
  fields: string[]
}

/**
 * Minimal RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF. A quote left open at the end
 * of the file is an error naming the line where it opened (it would otherwise swallow every
 * record after it into one field).
 */
export function parseCsv(text: string, source = 'CSV'): CsvRow[] {
  const rows: CsvRow[] = []
  let row: string[] = [],
    field = '',
    quoted = false
  let line = 1,
    rowLine = 1,
    quoteLine = 0
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch === '\n') line++
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i++
        } else quoted = false
      } else field += ch
    } else if (ch === '"' && field === '') {
      quoted = true
      quoteLine = line
    } else if (ch === ',') {
      row.push(field)
      field = ''
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') {
        i++
        line++
      }
      row.push(field)
      field = ''
      if (row.length > 1 || row[0] !== '') rows.push({line: rowLine, fields: row})
      row = []
      rowLine = line
    } else field += ch
  }
  if (quoted)
    throw new UserError(
      `${source}:${quoteLine}: quoted field opened here is never closed (a missing " swallows the rest of the file)`
    )
  if (field !== '' || row.length > 0) {
    row.push(field)
    rows.push({line: rowLine, fields: row})
  }
  return rows
}

/**
 * Parses a CSV with a header and checks that the required columns exist, and that the columns
 * in `nonEmpty` have a value in every row (an empty `dx` would become a class named "").
 */
export async function readCsvTable(
  path: string,
  required: string[],
  nonEmpty: string[] = []
): Promise<Array<Record<string, string>>> {
  const rows = parseCsv(await readUtf8(path), path)
  if (rows.length === 0) throw new UserError(`${path}: empty file, expected a header with ${required.join(', ')}`)
  const header = rows[0].fields.map(h => h.trim())
  const missing = required.filter(c => !header.includes(c))
  if (missing.length > 0)
    throw new UserError(
      `${path}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (header has ${header.join(', ')})`
    )
  return rows.slice(1).map(({line, fields}) => {
    if (fields.length !== header.length)
      throw new UserError(`${path}:${line}: ${fields.length} fields, the header has ${header.length}`)
    const record: Record<string, string> = Object.create(null)
    header.forEach((h, k) => {
      record[h] = fields[k].trim()
    })
    for (const column of nonEmpty) if (record[column] === '') throw new UserError(`${path}:${line}: empty ${column}`)
    return record
  })
}

export function rel(root: string, path: string): string {
  return relative(root, path).split('\\').join('/')
}
