// Paths built from data (class names from a dataset's metadata, image and sample ids, shard
// names in a weights index, `file` fields of captions.jsonl and samples/manifest.jsonl) must
// stay inside their root folder: a class label of `../../..` in HAM10000_metadata.csv must not
// make `generate` write outside the run dir, and a shard name must not read files outside the
// model folder. Every such path goes through these checks (docs/DEVELOPING.md "Reading user files").
import {isAbsolute, relative, resolve, sep} from 'node:path'
import {UserError, printable} from '../errors.js'

/** Longest name most file systems take, in UTF-8 bytes. */
const MAX_NAME_BYTES = 255

/** Why `name` cannot be one path component (a folder or file name), or null when it can. */
export function fileNameProblem(name: string): string | null {
  if (name === '') return 'is empty'
  if (name === '.' || name === '..') return `is "${name}"`
  if (/[/\\]/.test(name)) return 'contains a path separator'
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character'
  if (name !== name.trim()) return 'starts or ends with white space'
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `is longer than ${MAX_NAME_BYTES} bytes`
  return null
}

/** Returns `name` when it can be used as one folder or file name; else a UserError naming `what` (file:line, key). */
export function checkFileName(name: string, what: string): string {
  const problem = fileNameProblem(name)
  if (problem) throw new UserError(`${what}: "${printable(name)}" cannot be a file or folder name (it ${problem})`)
  return name
}

/** True when `path` (relative, from data) resolves inside its root: not absolute, no `..` escape. */
export function staysInside(path: string): boolean {
  if (path === '' || isAbsolute(path) || /^[A-Za-z]:/.test(path) || path.includes('\0')) return false
  const root = resolve('/root-of-check')
  const rel = relative(root, resolve(root, path))
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel)
}

/** `root` joined with a relative path from data, refused (UserError naming `what`) if it would leave `root`. */
export function insideRoot(root: string, path: string, what: string): string {
  if (!staysInside(path))
    throw new UserError(`${what}: "${printable(path)}" points outside ${root}; expected a relative path inside it`)
  return resolve(root, path)
}
