// Walks the zod schema to list valid keys, their types, defaults and docs: used for
// "did you mean" suggestions and for `medgen config schema`.
import type {z} from 'zod'

type AnySchema = z.ZodType

function unwrap(schema: AnySchema): AnySchema {
  let s = schema as any
  while (s?.def && ['default', 'prefault', 'optional', 'nullable', 'pipe'].includes(s.def.type)) {
    s = s.def.type === 'pipe' ? s.def.in : s.def.innerType
  }
  return s
}

export function childKeys(schema: AnySchema, path: readonly (string | number)[]): string[] {
  let s = unwrap(schema) as any
  for (const part of path) {
    if (s?.def?.type !== 'object') return []
    s = unwrap(s.shape[part as string])
  }
  return s?.def?.type === 'object' ? Object.keys(s.shape) : []
}

export interface KeyDoc {
  path: string
  type: string
  default: unknown
  doc: string
}

function describeType(s: any): string {
  const t = s?.def?.type
  if (t === 'enum') return Object.values(s.def.entries).join(' | ')
  if (t === 'array') return `list of ${describeType(unwrap(s.def.element))}`
  return t ?? 'unknown'
}

export function listKeys(schema: AnySchema, prefix = ''): KeyDoc[] {
  const s = unwrap(schema) as any
  if (s?.def?.type !== 'object') return []
  const out: KeyDoc[] = []
  for (const [key, child] of Object.entries<any>(s.shape)) {
    const path = prefix ? `${prefix}.${key}` : key
    const inner = unwrap(child) as any
    if (inner?.def?.type === 'object') {
      out.push(...listKeys(child, path))
      continue
    }
    let def: unknown
    let c = child
    while (c?.def) {
      if (c.def.type === 'default' || c.def.type === 'prefault') {
        def = typeof c.def.defaultValue === 'function' ? c.def.defaultValue() : c.def.defaultValue
        break
      }
      c = c.def.innerType
    }
    out.push({path, type: describeType(inner), default: def, doc: child.description ?? inner.description ?? ''})
  }
  return out
}

export function levenshtein(a: string, b: string): number {
  const dp = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1))
      prev = tmp
    }
  }
  return dp[b.length]
}

export function nearest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = levenshtein(word, c)
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 2)) ? best : null
}
