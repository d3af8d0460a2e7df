// report.html: one self-contained page (images inlined as data URIs) that a person opens
// in a browser without a server: config summary, stage timings, every stage's figures
// (loss curves, disentangler grid, t-SNE, contact sheets, confusion matrices), metric
// tables and the manifests' hashes.
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {writeFileAtomic} from '../io/atomic.js'
import {stages} from '../stages/registry.js'
import {runLayout, stageFiles} from '../run/layout.js'
import {readManifest, type StageManifest} from '../stages/manifest.js'
import {controlSection} from './control-section.js'
import {summarySection} from './summary-section.js'
import {nearChanceWarningHtml} from '../stages/classify/report.js'
import {esc} from './html.js'
import {imageSize} from '../io/images.js'
import {stageLossFigures} from './loss-curves.js'
import {visualGridColumns} from '../stages/visual/grid-columns.js'

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(5)
  if (Array.isArray(v) && v.every(x => typeof x === 'number'))
    return v.length > 12 ? `[${v.slice(0, 12).map(fmt).join(', ')}, …]` : `[${v.map(fmt).join(', ')}]`
  if (typeof v === 'object' && v !== null) return JSON.stringify(v).slice(0, 200)
  return String(v)
}

/** Flattens nested metrics into rows key.path -> value (arrays of objects kept as JSON). */
function flatten(obj: unknown, prefix = '', out: Array<[string, unknown]> = []): Array<[string, unknown]> {
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out)
  } else out.push([prefix, obj])
  return out
}

async function listPngs(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir))
      .filter(n => n.endsWith('.png'))
      .sort()
      .map(n => join(dir, n))
  } catch {
    return []
  }
}

async function imageTag(path: string, caption: string, columns?: readonly string[]): Promise<string> {
  const data = await fs.readFile(path)
  // a grid figure gets a row of column names over the image, one per equal-width column; the
  // figure is as wide as the image (at least ~100 px a column, so the names stay readable)
  const head = columns
    ? `<div class="columns" style="grid-template-columns:repeat(${columns.length},1fr)">${columns.map(c => `<span>${esc(c)}</span>`).join('')}</div>`
    : ''
  const width = columns ? Math.max((await imageSize(path)).width, 100 * columns.length) : 0
  return `<figure${columns ? ` class="grid" style="width:${width}px;max-width:100%"` : ''}>${head}<img alt="${esc(caption)}" src="data:image/png;base64,${data.toString('base64')}"><figcaption>${esc(caption)}</figcaption></figure>`
}

const reportLayout = runLayout('')
/** PNG loss curves a stage draws itself; the report draws them from losses.jsonl instead when the stage logged one. */
const lossPngs = new Set([reportLayout.visual.lossCurves, reportLayout.dit.lossPlot])
/** Figures whose columns the report names. */
const gridColumns: Record<string, readonly string[]> = {[reportLayout.visual.grid]: visualGridColumns}

function metricsTable(json: unknown): string {
  const rows = flatten(json).slice(0, 400)
  return `<table class="metrics"><tr><th>key</th><th>value</th></tr>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(fmt(v))}</td></tr>`).join('')}</table>`
}

async function readJson(path: string): Promise<unknown | null> {
  try {
    return JSON.parse(await fs.readFile(path, 'utf8'))
  } catch {
    return null
  }
}

export async function buildReport(runDir: string): Promise<string> {
  const run = (await readJson(runLayout(runDir).runRecord)) as any
  const manifests: Array<[string, StageManifest]> = []
  const dirOf: Record<string, string> = {}
  for (const stage of stages) {
    dirOf[stage.name] = stage.dir
    const m = await readManifest(runDir, stage.dir)
    if (m) manifests.push([stage.name, m])
  }
  const sections: string[] = []
  sections.push(
    `<h2>Stages</h2><table><tr><th>stage</th><th>status</th><th>seconds</th><th>backend</th><th>finished</th></tr>${manifests
      .map(
        ([s, m]) =>
          `<tr><td>${esc(s)}</td><td>${esc(m.status)}</td><td>${m.seconds?.toFixed(1) ?? ''}</td><td>${esc(m.backend ?? '')}</td><td>${esc(m.finishedAt ?? '')}</td></tr>`
      )
      .join('')}</table>`
  )
  for (const [stage, m] of manifests) {
    const dir = join(runDir, dirOf[stage])
    const parts: string[] = [`<h2 id="${esc(stage)}">${esc(stage)}</h2>`]
    const losses = await stageLossFigures(stage, runDir, dirOf[stage])
    parts.push(...losses.html)
    for (const png of await listPngs(dir)) {
      const name = `${dirOf[stage]}/${png.split('/').pop()}`
      if (losses.ownLog && lossPngs.has(name)) continue
      parts.push(await imageTag(png, name, gridColumns[name]))
    }
    const metrics = await readJson(join(dir, stageFiles.metrics))
    if (stage === 'classify' && metrics) parts.push(nearChanceWarningHtml(metrics))
    if (metrics)
      parts.push(
        `<details open><summary>${esc(dirOf[stage])}/${stageFiles.metrics}</summary>${metricsTable(metrics)}</details>`
      )
    if (m.notes) parts.push(`<details><summary>notes</summary>${metricsTable(m.notes)}</details>`)
    parts.push(
      `<details><summary>config and hashes</summary><pre>${esc(JSON.stringify({config: m.config, inputs: m.inputs, outputs: m.outputs}, null, 1))}</pre></details>`
    )
    sections.push(`<section>${parts.join('\n')}</section>`)
  }
  // Sections in reading order above the per-stage ones: the summary first, then control.
  const lead = [await summarySection(runDir), await controlSection(runDir)].filter((x): x is string => x !== null)
  sections.unshift(...lead)
  const title = `medgen report: ${runDir}`
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
figure{display:inline-block;margin:.5em;vertical-align:top}figure img{max-width:100%;image-rendering:pixelated;border:1px solid #ccc}
figcaption{font-size:.8em;color:#555}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;font-size:.85em;text-align:left}
caption{text-align:left;font-weight:600;padding:.3em 0}
figure.grid .columns{display:grid;font-size:.75em;color:#333;text-align:center;align-items:end}figure.grid img{display:block;width:100%}
figure.loss img{image-rendering:auto;border:none}
pre{font-size:.75em;max-height:20em;overflow:auto;background:#f6f6f6;padding:.5em}</style></head><body>
<h1>${esc(title)}</h1>
<p>VG-MedGen pipeline (captions → disentangled anatomy/style → text heads → HFFM-conditioned PixArt-α with LoRA → samples → metrics).
Run config: ${esc(run?.config ?? '(unknown)')}; backend ${esc(run?.backend ?? '')}; total ${run?.seconds ? run.seconds.toFixed(1) + ' s' : '?'}.</p>
${sections.join('\n')}
</body></html>
`
}

export async function writeReport(runDir: string): Promise<string> {
  const path = runLayout(runDir).report
  await writeFileAtomic(path, await buildReport(runDir))
  return path
}
