// The run's train/val/test split, made once and reused by every stage (DEVELOPING.md
// contract: <run>/split.json = {seed, hash, testFraction, valFraction, assignments}).
// Paper §3.1: 8:2 train/test; docs/REFERENCE.md §3.1: validation = 10% of train. Stratified by
// class; records of one group (HAM10000 lesion_id) always land on the same side, so one
// lesion never sits in both train and test (docs/DESIGN.md "Deliberate fixes").
import {promises as fs} from 'node:fs'
import {UserError} from '../errors.js'
import {sha256, stableStringify, writeJsonAtomic} from '../io/atomic.js'
import {z} from '../io/validate.js'
import {Rng, deriveSeed} from '../util/rng.js'
import type {DatasetRecord} from './layouts/common.js'
import {runLayout} from '../run/layout.js'

export type SplitName = 'train' | 'val' | 'test'
export interface SplitOptions {
  seed: number
  testFraction: number
  valFraction: number
}

/** The split options of a config: data.splitSeed when set, else run.seed. */
export function splitOptionsOf(config: {
  run: {seed: number}
  data: {splitSeed: number; testFraction: number; valFraction: number}
}): SplitOptions {
  return {
    seed: config.data.splitSeed >= 0 ? config.data.splitSeed : config.run.seed,
    testFraction: config.data.testFraction,
    valFraction: config.data.valFraction
  }
}
export interface Split extends SplitOptions {
  hash: string
  assignments: Record<string, SplitName>
}

/** Hash of the assignments only, so equal splits have equal hashes whatever made them. */
export function splitHash(assignments: Record<string, SplitName>): string {
  return sha256(stableStringify(assignments))
}

/**
 * Assigns whole groups to a side, class by class: each group counts for the class most of its
 * images have; groups are shuffled (seeded) and taken for the held-out side while that brings
 * its image count closer to fraction × class size.
 */
function takeGroups(groups: Array<{key: string; size: number}>, fraction: number, rng: Rng): Set<string> {
  const total = groups.reduce((s, g) => s + g.size, 0)
  const target = fraction * total
  const order = rng.shuffle(groups.slice())
  const taken = new Set<string>()
  let count = 0
  for (const g of order) {
    if (Math.abs(count + g.size - target) < Math.abs(count - target) && count + g.size <= Math.ceil(target + 0.5)) {
      taken.add(g.key)
      count += g.size
    }
    if (count >= target) break
  }
  return taken
}

export function makeSplit(records: DatasetRecord[], opts: SplitOptions): Split {
  const groups = new Map<string, DatasetRecord[]>()
  for (const r of records) {
    const g = groups.get(r.group) ?? []
    g.push(r)
    groups.set(r.group, g)
  }
  const byClass = new Map<string, Array<{key: string; size: number}>>()
  for (const [key, members] of [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const counts = new Map<string, number>()
    for (const m of members) counts.set(m.className, (counts.get(m.className) ?? 0) + 1)
    const cls = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0]
    const list = byClass.get(cls) ?? []
    list.push({key, size: members.length})
    byClass.set(cls, list)
  }
  const side = new Map<string, SplitName>()
  for (const cls of [...byClass.keys()].sort()) {
    const list = byClass.get(cls)!
    const rng = new Rng(deriveSeed(opts.seed, 'split', cls))
    const test = takeGroups(list, opts.testFraction, rng)
    const rest = list.filter(g => !test.has(g.key))
    const val = takeGroups(rest, opts.valFraction, rng)
    for (const g of list) side.set(g.key, test.has(g.key) ? 'test' : val.has(g.key) ? 'val' : 'train')
  }
  const assignments: Record<string, SplitName> = {}
  for (const r of [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)))
    assignments[r.id] = side.get(r.group)!
  return {
    seed: opts.seed,
    hash: splitHash(assignments),
    testFraction: opts.testFraction,
    valFraction: opts.valFraction,
    assignments
  }
}

/**
 * Returns the run's split, writing <run>/split.json (atomically) the first time. Later calls
 * read it back and check that it still fits: same seed and fractions, intact hash, and an
 * assignment for every record of the dataset.
 */
const splitFileSchema = z.looseObject({
  seed: z.number(),
  testFraction: z.number(),
  valFraction: z.number(),
  hash: z.string(),
  assignments: z.record(z.string(), z.enum(['train', 'val', 'test']))
})

export async function ensureSplit(
  runDir: string,
  dataset: {records: DatasetRecord[]},
  opts: SplitOptions
): Promise<Split> {
  const path = runLayout(runDir).split
  let text: string | null = null
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (text === null) {
    const split = makeSplit(dataset.records, opts)
    await writeJsonAtomic(path, split)
    return split
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UserError(`${path}: not valid JSON; delete it to make a new split`)
  }
  const checked = splitFileSchema.safeParse(parsed)
  if (!checked.success)
    throw new UserError(
      `${path}: damaged (${checked.error.issues[0].path.join('.') || 'top level'}: ${checked.error.issues[0].message}); delete it to make a new split`
    )
  const split = checked.data as Split
  if (split.hash !== splitHash(split.assignments)) {
    throw new UserError(`${path}: damaged (hash does not match its assignments); delete it to make a new split`)
  }
  for (const key of ['seed', 'testFraction', 'valFraction'] as const) {
    if (split[key] !== opts[key]) {
      throw new UserError(
        `${path}: made with ${key}=${split[key]}, the config now says ${opts[key]}; use a new run directory or delete split.json`
      )
    }
  }
  const uncovered = dataset.records.filter(r => !(r.id in split.assignments))
  if (uncovered.length > 0) {
    throw new UserError(
      `${path}: does not cover ${uncovered.length} image${uncovered.length > 1 ? 's' : ''} of the dataset ` +
        `(first: ${uncovered
          .slice(0, 3)
          .map(r => r.id)
          .join(', ')}); the dataset changed since the split was made: use a new run directory or delete split.json`
    )
  }
  return split
}

export function recordsOf<T extends {id: string}>(records: T[], split: Split, which: SplitName | SplitName[]): T[] {
  const want = new Set(Array.isArray(which) ? which : [which])
  return records.filter(r => want.has(split.assignments[r.id]))
}
