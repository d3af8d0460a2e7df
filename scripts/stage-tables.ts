// The pipeline tables of README.md, docs/DESIGN.md and docs/DEVELOPING.md, written from the stage
// registry (src/stages/registry.ts) between `<!-- stages:NAME -->` and `<!-- /stages:NAME -->`.
//   npm run docs:stages          rewrite them after changing the registry
// test/docs/stage-tables.test.ts fails when a table and the registry disagree.
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {runLayout} from '../src/run/layout.js'
import {stages} from '../src/stages/registry.js'

const code = (s: string): string => `\`${s}\``

/** command | paper | reads | writes: one row per stage, in pipeline order, then `medgen run`. */
export function pipelineTable(): string {
  const rows = stages.map(s => {
    const writes = [...s.writes.map(w => code(w.path)), ...(s.alsoWrites ? [s.alsoWrites] : [])].join(', ')
    return `| ${code(s.example)} | ${s.paper || '—'} | ${s.reads} | ${writes} |`
  })
  return [
    '| command | paper | reads | writes (under the run dir) |',
    '| --- | --- | --- | --- |',
    ...rows,
    `| ${code('medgen run CONFIG')} | — | a config | all of the above, in this order, + ${code(runLayout('').report)} |`
  ].join('\n')
}

/** artifact | producer | content: every file one stage writes and a later one reads. */
export function contractsTable(): string {
  const split = `| ${code(runLayout('').split)} | src/data/split.ts ${code('ensureSplit')} (the first stage that splits the dataset) | ${code('{seed, hash, testFraction, valFraction, assignments: {id: "train"|"val"|"test"}}')} |`
  return [
    '| artifact | producer | content |',
    '| --- | --- | --- |',
    split,
    ...stages.flatMap(s => s.writes.map(w => `| ${code(w.path)} | ${s.name} | ${w.content} |`))
  ].join('\n')
}

export const generatedTables = [
  {file: 'README.md', name: 'pipeline', render: pipelineTable},
  {file: 'docs/DESIGN.md', name: 'pipeline', render: pipelineTable},
  {file: 'docs/DEVELOPING.md', name: 'contracts', render: contractsTable}
]

/** The text with the block between the markers replaced; throws when the markers are missing. */
export function withTable(text: string, file: string, name: string, table: string): string {
  const open = `<!-- stages:${name} (written by scripts/stage-tables.ts from src/stages/registry.ts) -->`
  const close = `<!-- /stages:${name} -->`
  const start = text.indexOf(open)
  const end = text.indexOf(close)
  if (start < 0 || end < start) throw new Error(`${file}: no ${open} ... ${close} block`)
  return text.slice(0, start + open.length) + '\n' + table + '\n' + text.slice(end)
}

export const repoRoot = join(fileURLToPath(import.meta.url), '..', '..')

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const t of generatedTables) {
    const path = join(repoRoot, t.file)
    const text = await fs.readFile(path, 'utf8')
    const next = withTable(text, t.file, t.name, t.render())
    if (next !== text) await fs.writeFile(path, next)
    console.log(`${t.file}: ${next === text ? 'up to date' : 'rewritten'}`)
  }
}
