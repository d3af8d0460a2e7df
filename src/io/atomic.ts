// Atomic writes: temp file in the same folder, fsync, rename, fsync the folder. A crash
// or kill -9 leaves either the old file or the new one, never half of one.
import {createHash, randomBytes} from 'node:crypto'
import {promises as fs, openSync, writeSync, fsyncSync, closeSync, renameSync, mkdirSync, unlinkSync} from 'node:fs'
import {dirname, basename, join} from 'node:path'
import {UserError, describeFsError} from '../errors.js'
import {validateUserData, type z} from './validate.js'

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    /* some file systems refuse to fsync folders; rename is still atomic */
  }
}

export async function writeFileAtomic(path: string, data: string | Uint8Array | Array<Uint8Array>): Promise<void> {
  const tmp = tempPathFor(path)
  try {
    await fs.mkdir(dirname(path), {recursive: true})
    const handle = await fs.open(tmp, 'w')
    try {
      if (Array.isArray(data)) for (const chunk of data) await handle.write(chunk)
      else await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.rename(tmp, path)
    await fsyncDir(dirname(path))
  } catch (err) {
    await fs.rm(tmp, {force: true}).catch(() => {})
    throw describeFsError(err, path) ?? err
  }
}

/** Synchronous variant for signal handlers and tiny state files. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(path)
  try {
    mkdirSync(dirname(path), {recursive: true})
    const fd = openSync(tmp, 'w')
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (err) {
    try {
      unlinkSync(tmp)
    } catch {
      /* already gone */
    }
    throw describeFsError(err, path) ?? err
  }
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n')
}

/**
 * Appends one line durably (write + fsync). Used for captions.jsonl and samples/manifest.jsonl
 * so that every finished item survives a kill -9; readers ignore a torn last line.
 */
export async function appendLineDurable(path: string, line: string): Promise<void> {
  try {
    await fs.mkdir(dirname(path), {recursive: true})
    const handle = await fs.open(path, 'a')
    try {
      await handle.write(line.endsWith('\n') ? line : line + '\n')
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
}

/**
 * Reads a JSONL file, skipping a torn (partial) final line left by a kill. Every other line must
 * be a JSON object (and match `schema` when given); anything else is a UserError naming the
 * file and line, so a hand-edited or damaged file never surfaces as a TypeError in a stage.
 */
export async function readJsonl<T = Record<string, unknown>>(
  path: string,
  schema?: z.ZodType<T, any>,
  what = 'record'
): Promise<T[]> {
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw describeFsError(err, path) ?? err
  }
  const lines = text.split('\n')
  const out: T[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (!line) continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      if (i >= lines.length - 2) continue // torn last line from an interrupted append
      throw new UserError(`${path}:${i + 1}: not valid JSON; fix or delete the line`)
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new UserError(
        `${path}:${i + 1}: expected a JSON object per line, found ${value === null ? 'null' : Array.isArray(value) ? 'a list' : `a ${typeof value}`}`
      )
    }
    out.push(schema ? validateUserData(schema, value, {file: path, line: i + 1}, what) : (value as T))
  }
  return out
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  const handle = await fs.open(path, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    for (;;) {
      const {bytesRead} = await handle.read(buf, 0, buf.length, null)
      if (bytesRead === 0) break
      hash.update(buf.subarray(0, bytesRead))
    }
  } finally {
    await handle.close()
  }
  return hash.digest('hex')
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Stable JSON (sorted keys) for hashing configs. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return '[' + value.map(stableStringify).join(',') + ']'
  const obj = value as Record<string, unknown>
  return (
    '{' +
    Object.keys(obj)
      .sort()
      .filter(k => obj[k] !== undefined)
      .map(k => JSON.stringify(k) + ':' + stableStringify(obj[k]))
      .join(',') +
    '}'
  )
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await fs.access(path)
    return true
  } catch {
    return false
  }
}
