// The synthetic benchmark's table (scripts/synth-bench.sh): per conditioning mode, the mean and 95%
// interval over seeds (t distribution) of control gain, swap metrics, hfd, dfd and classify BACC.
//   node scripts/synth-bench-table.mjs runs/synth-bench [--seeds "1 2 3"] [--modes "..."] [--write docs/RESULTS.md]
// With --write the block between <!-- synth-bench:begin --> and <!-- synth-bench:end --> is replaced.
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {cpus} from 'node:os'

const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : fallback
}
const base = args[0] && !args[0].startsWith('--') ? args[0] : 'runs/synth-bench'
const seeds = opt('seeds', '1 2 3').split(/\s+/).filter(Boolean)
const modes = opt('modes', 'hffm concat text class').split(/\s+/).filter(Boolean)
const read = p => (existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null)
// two-sided 95% t quantiles for n - 1 degrees of freedom
const t95 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262]
function summary(values) {
  const v = values.filter(x => typeof x === 'number' && Number.isFinite(x))
  if (v.length === 0) return 'n/a'
  const mean = v.reduce((a, b) => a + b, 0) / v.length
  if (v.length === 1) return `${mean.toFixed(3)} (n=1)`
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1))
  const half = ((t95[v.length - 1] ?? 1.96) * sd) / Math.sqrt(v.length)
  return `${mean.toFixed(3)} ± ${half.toFixed(3)}`
}
const columns = [
  ['gain anatomy', m => m.eval?.metrics?.control?.gain?.anatomy],
  ['gain style', m => m.eval?.metrics?.control?.gain?.style],
  ['style-swap mask IoU', m => m.eval?.metrics?.control?.styleSwapMaskIoU],
  ['anatomy-swap colour agreement', m => m.eval?.metrics?.control?.anatomySwapColourAgreement],
  ['hfd', m => m.eval?.metrics?.hfd?.value],
  ['dfd', m => m.eval?.metrics?.dfd?.value],
  ['BACC real+synthetic', m => m.classify?.protocols?.['real+synthetic']?.summary?.balancedAccuracy?.mean]
]
const lines = []
lines.push(`| conditioning | ${columns.map(c => c[0]).join(' | ')} | runs |`)
lines.push(`| --- | ${columns.map(() => '---:').join(' | ')} | ---: |`)
const refs = []
for (const mode of modes) {
  const runs = seeds
    .map(s => ({
      eval: read(`${base}/${mode}-s${s}/eval/metrics.json`),
      classify: read(`${base}/${mode}-s${s}/classify/metrics.json`)
    }))
    .filter(r => r.eval)
  lines.push(`| ${mode} | ${columns.map(([, get]) => summary(runs.map(get))).join(' | ')} | ${runs.length} |`)
  for (const r of runs) refs.push(r)
}
const c = refs[0]?.eval?.metrics?.control
const real = seeds.map(
  s => read(`${base}/hffm-s${s}/classify/metrics.json`)?.protocols?.real?.summary?.balancedAccuracy?.mean
)
const when = new Date().toISOString().slice(0, 10)
const text = [
  `Measured ${when} on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), seeds ${seeds.join(', ')}${opt('seconds') ? `, ${opt('seconds')} s in all` : ''}; ` +
    'mean ± 95% interval over seeds (t distribution). gain = (accuracy − shuffled within class) / (ceiling − shuffled within class), ' +
    `ceiling = ${c?.gain?.ceilingUsed ?? 'n/a'} (${c?.ceiling?.decoder ?? ''}).`,
  '',
  ...lines,
  '',
  `References from the same runs: ceiling real anatomy ${c?.ceiling?.real?.anatomy ?? 'n/a'} / style ${c?.ceiling?.real?.style ?? 'n/a'}, ` +
    `decoded ${c?.ceiling?.decoded?.anatomy ?? 'n/a'} / ${c?.ceiling?.decoded?.style ?? 'n/a'}; classify BACC under \`real\` (hffm runs): ${summary(real)}; chance 1/7 = 0.143.`
]
const block = text.join('\n')
console.log(block)
const target = opt('write')
if (target) {
  const doc = readFileSync(target, 'utf8')
  const begin = '<!-- synth-bench:begin -->',
    end = '<!-- synth-bench:end -->'
  const i = doc.indexOf(begin),
    j = doc.indexOf(end)
  if (i < 0 || j < i) throw new Error(`${target}: no ${begin} ... ${end} block to replace`)
  writeFileSync(target, doc.slice(0, i + begin.length) + '\n' + block + '\n' + doc.slice(j))
  console.log(`synth-bench: table written to ${target}`)
}
