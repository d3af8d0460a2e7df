// Loads a run config: YAML file -> --set overrides -> command flags -> schema defaults.
// Every mistake becomes one line naming the file, the key path and the problem.
import {readFileSync} from 'node:fs'
import {parseDocument, parse as parseYamlValue, type YAMLParseError} from 'yaml'
import {UserError, describeFsError} from '../errors.js'
import {configSchema, type MedgenConfig} from './schema.js'
import {childKeys, nearest} from './keys.js'

export interface LoadOptions {
  /** YAML file; absent = defaults only. */
  file?: string
  /** `--set a.b=c` strings, applied in order. */
  sets?: string[]
  /** Values from command flags, by dotted key path; undefined entries are ignored. */
  overrides?: Record<string, unknown>
}

type Tree = Record<string, unknown>

function readYaml(file: string): Tree {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw describeFsError(err, file) ?? err
  }
  const doc = parseDocument(text, {prettyErrors: false})
  if (doc.errors.length > 0) {
    const e = doc.errors[0] as YAMLParseError
    const offset = e.pos?.[0] ?? 0
    const before = text.slice(0, offset).split('\n')
    const where = `:${before.length}:${before[before.length - 1].length + 1}`
    throw new UserError(
      `${file}${where}: YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`
    )
  }
  let value: unknown
  // The yaml library refuses documents whose aliases expand past its maxAliasCount (a
  // "billion laughs" bomb); that guard is the user's file at fault, not a bug.
  try {
    value = doc.toJS() ?? {}
  } catch (err) {
    throw new UserError(`${file}: YAML rejected: ${(err as Error).message.split('\n')[0]}`)
  }
  if (typeof value !== 'object' || Array.isArray(value))
    throw new UserError(`${file}: expected a mapping of sections (run:, data:, ...) at the top level`)
  refuseForbiddenKeys(value as Tree, file, [])
  return value as Tree
}

/** A YAML file may spell `__proto__:` too; the yaml library keeps it as an own key, refuse it by name. */
function refuseForbiddenKeys(node: unknown, file: string, path: string[]): void {
  if (node === null || typeof node !== 'object') return
  for (const key of Object.keys(node)) {
    const here = [...path, key]
    if (FORBIDDEN_KEYS.has(key)) throw new UserError(`${file}: ${here.join('.')}: "${key}" is not allowed as a key`)
    refuseForbiddenKeys((node as Tree)[key], file, here)
  }
}

/** Key names that would reach Object.prototype through plain assignment (`--set __proto__.x=1`). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

export function setPath(tree: Tree, path: string, value: unknown, source: string): void {
  const parts = path.split('.')
  if (parts.some(p => p === '')) throw new UserError(`${source}: invalid key path "${path}"`)
  const forbidden = parts.find(p => FORBIDDEN_KEYS.has(p))
  if (forbidden) throw new UserError(`${source}: ${path}: "${forbidden}" is not allowed in a key path`)
  let node: Tree = tree
  for (const part of parts.slice(0, -1)) {
    const next = Object.hasOwn(node, part) ? node[part] : undefined
    // Sections created here have no prototype: a user key can never land on Object.prototype.
    if (next === undefined || next === null) node[part] = Object.create(null)
    else if (typeof next !== 'object' || Array.isArray(next))
      throw new UserError(`${source}: ${path}: ${part} is not a section`)
    node = node[part] as Tree
  }
  node[parts[parts.length - 1]] = value
}

function parseSet(expr: string): [string, unknown] {
  const eq = expr.indexOf('=')
  if (eq <= 0) throw new UserError(`--set ${expr}: expected key.path=value`)
  const key = expr.slice(0, eq).trim()
  const raw = expr.slice(eq + 1)
  let value: unknown
  try {
    value = parseYamlValue(raw)
  } catch {
    value = raw
  }
  return [key, value ?? raw]
}

function formatIssue(issue: any, source: string): string {
  const path: (string | number)[] = issue.path ?? []
  const dotted = path.join('.')
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] as string
    const full = dotted ? `${dotted}.${key}` : key
    const siblings = childKeys(configSchema, path)
    const guess = nearest(key, siblings)
    const hint = guess
      ? `did you mean ${dotted ? dotted + '.' : ''}${guess}?`
      : `valid keys here: ${siblings.join(', ')}`
    return `${source}: ${full}: unknown key; ${hint}`
  }
  if (issue.code === 'invalid_type') {
    const expected = issue.expected === 'object' ? 'a section (mapping)' : issue.expected
    return `${source}: ${dotted}: wrong type, expected ${expected}`
  }
  if (issue.code === 'invalid_value' && issue.values) {
    return `${source}: ${dotted}: must be one of ${issue.values.join(', ')}`
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const bound = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<'
    return `${source}: ${dotted}: out of range, must be ${bound} ${issue.minimum ?? issue.maximum}`
  }
  return `${source}: ${dotted || '(top level)'}: ${issue.message}`
}

export function loadConfig(opts: LoadOptions = {}): MedgenConfig {
  const tree: Tree = opts.file ? readYaml(opts.file) : Object.create(null)
  const source = opts.file ?? 'config'
  for (const expr of opts.sets ?? []) {
    const [key, value] = parseSet(expr)
    setPath(tree, key, value, `--set ${key}`)
  }
  for (const [key, value] of Object.entries(opts.overrides ?? {})) {
    if (value !== undefined) setPath(tree, key, value, `flag for ${key}`)
  }
  const result = configSchema.safeParse(tree)
  if (!result.success) {
    const issue = result.error.issues[0]
    // Say where a bad value came from: the file, or the --set that introduced it.
    const dotted = (issue.path ?? []).join('.')
    const fromSet = (opts.sets ?? [])
      .map(parseSet)
      .find(([k]) => dotted.startsWith(k) || k.startsWith(dotted + '.') || k === dotted)
    throw new UserError(formatIssue(issue, fromSet ? `--set ${fromSet[0]}` : source))
  }
  return result.data
}
