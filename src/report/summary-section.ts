// The summary at the top of report.html: every eval metric (value ± std, N, or why it was
// skipped) and the classify table (mean ± std per protocol, as classify/table.md has it), so a
// reader sees the results before the per-stage figures. A section is an HTML string or null.
import {promises as fs} from 'node:fs'
import {runLayout} from '../run/layout.js'
import {esc} from './html.js'

async function readText(path: string): Promise<string | null> {
  try {
    return await fs.readFile(path, 'utf8')
  } catch {
    return null
  }
}

interface EvalMetric {
  value?: number
  std?: number
  skipped?: string
  definition?: string
  nReal?: number
  nGen?: number
}

function evalRows(json: string | null): string[] {
  if (!json) return []
  let metrics: Record<string, EvalMetric>
  try {
    metrics = (JSON.parse(json) as {metrics?: Record<string, EvalMetric>}).metrics ?? {}
  } catch {
    return []
  }
  return Object.entries(metrics).map(([name, m]) => {
    const value = m.skipped
      ? `skipped: ${m.skipped}`
      : m.value === undefined || m.value === null
        ? 'n/a'
        : `${m.value.toPrecision(5)}${typeof m.std === 'number' ? ` ± ${m.std.toPrecision(3)}` : ''}`
    const n = m.nReal !== undefined || m.nGen !== undefined ? `${m.nReal ?? '?'} real / ${m.nGen ?? '?'} generated` : ''
    const definition = (m.definition ?? '').split(/[.;]/)[0]
    return `<tr><td>${esc(name)}</td><td>${esc(value)}</td><td>${esc(n)}</td><td>${esc(definition)}</td></tr>`
  })
}

/** The first Markdown table of classify/table.md (mean ± std per protocol) as HTML. */
function classifyTable(markdown: string | null): string | null {
  if (!markdown) return null
  const lines = markdown.split('\n')
  const start = lines.findIndex(l => l.startsWith('|'))
  if (start < 0) return null
  const rows: string[][] = []
  for (const line of lines.slice(start)) {
    if (!line.startsWith('|')) break
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|')
      .map(c => c.trim())
    if (cells.every(c => /^-+$/.test(c))) continue
    rows.push(cells)
  }
  if (rows.length < 2) return null
  const [head, ...body] = rows
  const title = lines.find(l => l.startsWith('# '))?.slice(2) ?? 'classify'
  return (
    `<table class="summary classify"><caption>${esc(title)}</caption><tr>${head.map(h => `<th>${esc(h)}</th>`).join('')}</tr>` +
    body.map(r => `<tr>${r.map(c => `<td>${esc(c)}</td>`).join('')}</tr>`).join('') +
    '</table>'
  )
}

export async function summarySection(runDir: string): Promise<string | null> {
  const layout = runLayout(runDir)
  const rows = evalRows(await readText(layout.eval.metrics))
  const classify = classifyTable(await readText(layout.classify.table))
  if (rows.length === 0 && !classify) return null
  const evalTable =
    rows.length === 0
      ? ''
      : '<table class="summary eval"><caption>eval (eval/metrics.json)</caption>' +
        `<tr><th>metric</th><th>value</th><th>images</th><th>definition</th></tr>${rows.join('')}</table>`
  return `<section id="summary"><h2>Summary</h2>${evalTable}${classify ?? ''}</section>`
}
