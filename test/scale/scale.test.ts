// `npm run test:scale` (issue 24 item 2; not part of `npm test`): random weights at full size in
// the layouts the public repositories ship, each checked by `medgen check-weights` in a process of
// its own (so each phase's peak RSS and wasm heap are its own): PixArt-XL-2 as fp16 shards +
// index (forward and one LoRA step at 256 px on wasm) and as one fp32 file (forward), the SD VAE
// (encode + decode at 256 px) and BERT-base as pytorch_model.bin (16 captions). The figures go
// into docs/BENCHMARKS.md between the scale markers; the files are removed (also on failure or
// SIGINT/SIGTERM). Needs ~3 GB of disk under $MEDGEN_SCALE_DIR (default the OS temp folder; one
// model's files at a time) and ~5 GB of RAM. If wasm cannot hold the LoRA step, the report must
// say so with what it needed, and the test fails.
import {expect} from 'chai'
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync} from 'node:fs'
import {cpus, getPriority, loadavg, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {pixartPreset} from '../../src/models/pixart/config.js'
import {countPixArtParams} from '../../src/models/pixart/transformer.js'
import type {VaeConfig} from '../../src/models/vae/autoencoder.js'
import type {CheckReport} from '../../src/check/check-weights.js'
import {BERT_BASE, writeBertFolder, writePixArtFolder, writeVaeFolder} from '../helpers/model-folders.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
/** stabilityai/sd-vae-ft-ema config.json (the VAE PixArt-XL-2-512x512 ships), 83,653,863 parameters. */
const SD_VAE: VaeConfig = {
  in_channels: 3,
  out_channels: 3,
  latent_channels: 4,
  block_out_channels: [128, 256, 512, 512],
  layers_per_block: 2,
  norm_num_groups: 32,
  scaling_factor: 0.18215
}

interface Row {
  what: string
  report: CheckReport | null
  wallSeconds: number
  writeSeconds: number
  status: number | null
  stderr: string
}

let running: ChildProcess | null = null

/** One check-weights process; its progress lines (stderr) are passed through as they come, so a long run shows where it is. */
function checkWeights(
  folder: string,
  args: string[]
): Promise<{report: CheckReport | null; status: number | null; stderr: string; wallSeconds: number}> {
  const t0 = performance.now()
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'bin', 'dev.js'), 'check-weights', folder, '--json', ...args],
    {cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, MEDGEN_BACKEND: ''}}
  )
  running = child
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000)
    process.stderr.write(d.replace(/^(?=.)/gm, `      [${new Date().toISOString().slice(11, 19)}] `))
  })
  return new Promise(resolve =>
    child.on('close', status => {
      running = null
      let report: CheckReport | null = null
      try {
        report = JSON.parse(stdout)
      } catch {
        /* reported through status/stderr */
      }
      resolve({report, status, stderr: stderr.slice(-2000), wallSeconds: (performance.now() - t0) / 1000})
    })
  )
}

const gb = (b: number | null | undefined): string => (b == null ? '-' : (b / 2 ** 30).toFixed(2))

function table(rows: Row[]): string {
  const lines = [
    '| model, layout | phase | backend | status | seconds | peak tracked GB | wasm heap GB | peak RSS GB | estimate GB |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const row of rows) {
    const r = row.report
    if (!r) {
      lines.push(
        `| ${row.what} | (no report: exit ${row.status}) | | ${row.stderr.split('\n').at(-2) ?? ''} | ${row.wallSeconds.toFixed(0)} | | | | |`
      )
      continue
    }
    for (const p of r.phases) {
      lines.push(
        `| ${row.what} | ${p.name} | ${r.backend} | ${p.skipped ? 'skipped' : p.ok ? 'ok' : `FAILED: ${p.error}`} | ${p.seconds.toFixed(1)} | ${gb(p.trackedPeakBytes)} | ${gb(p.wasmHeapBytes)} | ${gb(p.peakRssBytes)} | ${gb(p.estimatedBytes)} |`
      )
    }
  }
  return lines.join('\n')
}

function recordInBenchmarks(rows: Row[], started: Date, load: number[]): void {
  const path = join(root, 'docs', 'BENCHMARKS.md')
  const begin = '<!-- test:scale begin -->'
  const end = '<!-- test:scale end -->'
  const fits = [...new Set(rows.flatMap(r => r.report?.fits ?? []))]
  const section = [
    begin,
    `## Full-size weights (npm run test:scale, ${started.toISOString().slice(0, 16)} UTC)`,
    '',
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${gb(totalmem())} GB RAM, Node ${process.version}; run at nice ${getPriority()},`,
    `MEDGEN_WASM_THREADS=${process.env.MEDGEN_WASM_THREADS ?? '(auto)'}; load average at start ${load.map(v => v.toFixed(1)).join(' ')}, after the last row ${loadavg()
      .map(v => v.toFixed(1))
      .join(' ')}`,
    '(the machine was shared with other jobs: times are upper bounds). Random weights in the public layouts, written by',
    'test/helpers/model-folders.ts; each row is one `medgen check-weights --json` process. "peak tracked" = highest bytes tfjs',
    'tracked during the phase; "wasm heap" = the wasm linear memory after it (its high-water mark); "estimate" = src/check/estimate.ts.',
    `Writing the files took ${rows.map(r => `${r.what} ${r.writeSeconds.toFixed(0)} s`).join(', ')}.`,
    '',
    table(rows),
    '',
    'What check-weights concluded:',
    '',
    ...fits.map(f => `- ${f}`),
    end
  ].join('\n')
  const text = readFileSync(path, 'utf8')
  const a = text.indexOf(begin)
  const b = text.indexOf(end)
  const next =
    a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + end.length) : `${text.trimEnd()}\n\n${section}\n`
  writeFileSync(path, next)
}

describe('test:scale: full-size weights in the public layouts through check-weights', function () {
  this.timeout(0)
  const work = mkdtempSync(join(process.env.MEDGEN_SCALE_DIR ?? tmpdir(), 'medgen-scale-'))
  const rows: Row[] = []
  const started = new Date()
  const load = loadavg()
  // the files (up to 2.5 GB at a time) go even when the run is interrupted: mocha's after() does not run on a signal
  const removeWork = (): void => {
    running?.kill('SIGKILL')
    rmSync(work, {recursive: true, force: true})
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    removeWork()
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  before(() => {
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal)
    const {bavail, bsize} = statfsSync(work)
    expect(bavail * bsize, `free space under ${work} (set MEDGEN_SCALE_DIR)`).to.be.greaterThan(3 * 2 ** 30)
  })
  after(() => {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal)
    removeWork()
  })

  async function run(what: string, write: (dir: string) => Promise<unknown>, args: string[]): Promise<Row> {
    const dir = join(work, what.replace(/[^a-z0-9]+/gi, '-'))
    let row: Row
    try {
      const t0 = performance.now()
      await write(dir)
      const writeSeconds = (performance.now() - t0) / 1000
      row = {what, writeSeconds, ...(await checkWeights(dir, args))}
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    rows.push(row)
    recordInBenchmarks(rows, started, load) // after every row, so a run cut short still leaves its figures
    console.log(
      `      ${what}: exit ${row.status} in ${row.wallSeconds.toFixed(0)} s (files written in ${row.writeSeconds.toFixed(0)} s)`
    )
    if (row.report) for (const f of row.report.fits) console.log(`        ${f}`)
    else console.log(row.stderr)
    return row
  }

  it('PixArt-XL-2 as fp16 shards + index: forward and one LoRA step at 256 px on wasm', async () => {
    const xl = pixartPreset('pixart-xl-512')
    const write = (dir: string) => writePixArtFolder(dir, xl, 'F16', 500 * 2 ** 20)
    // blocks checkpointed: without, the step needs ~3.9 GB (every block's tape), at the 4 GB wasm ceiling
    const row = await run('PixArt-XL-2 fp16 shards', write, [
      '--size',
      '256',
      '--checkpoint',
      'on',
      '--backend',
      'wasm'
    ])
    expect(row.report, row.stderr).to.not.equal(null)
    const r = row.report!
    expect(r.parameters).to.equal(countPixArtParams(xl))
    expect(r.layout).to.equal('sharded')
    expect(r.dtype).to.equal('F16')
    const forward = r.phases.find(p => p.name === 'forward 256 px')!
    expect(forward.ok, forward.error).to.equal(true)
    const step = r.phases.find(p => p.name === 'LoRA step 256 px')!
    // the issue's bar: the step runs on wasm at 256 px. (A retry on the cpu backend, which this
    // test once made, takes hours at this size; a failure must instead say what it needed.)
    if (!step.ok)
      expect(r.fits.join('\n')).to.match(/LoRA step 256 px on wasm: (FAILED .*needs|not run: needs) ~[\d.]+ GB/)
    expect(step.ok, `LoRA step on wasm: ${step.error}`).to.equal(true)
    expect(step.wasmHeapBytes, 'the step stays under the 4 GB wasm heap').to.be.below(4 * 2 ** 30)
  })

  it('PixArt-XL-2 as one fp32 file: forward at 256 px on wasm', async () => {
    const row = await run(
      'PixArt-XL-2 fp32 single',
      dir => writePixArtFolder(dir, pixartPreset('pixart-xl-512'), 'F32'),
      ['--size', '256', '--no-train', '--backend', 'wasm']
    )
    expect(row.report?.layout, row.stderr).to.equal('single')
    expect(row.report!.fileBytes).to.be.greaterThan(4 * 610_856_096)
    expect(row.report!.phases.find(p => p.name === 'forward 256 px')?.ok).to.equal(true)
  })

  it('SD VAE (sd-vae-ft-ema sizes, fp32): encode + decode at 256 px on wasm', async () => {
    const row = await run('SD VAE fp32', dir => writeVaeFolder(dir, SD_VAE, 'F32'), [
      '--size',
      '256',
      '--backend',
      'wasm'
    ])
    expect(row.report?.parameters, row.stderr).to.equal(83_653_863)
    expect(row.report!.phases.every(p => p.ok)).to.equal(true)
  })

  it('BERT-base as pytorch_model.bin: 16 captions on wasm', async () => {
    const row = await run('BERT-base .bin', dir => writeBertFolder(dir, BERT_BASE, 'bin'), [
      '--captions',
      '16',
      '--seq-len',
      '64',
      '--backend',
      'wasm'
    ])
    expect(row.report?.kind, row.stderr).to.equal('bert')
    expect(row.report!.phases.every(p => p.ok)).to.equal(true)
  })
})
