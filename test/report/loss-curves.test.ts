// report.html's figures (issue 21 "report.html"): loss curves drawn from <stage>/losses.jsonl
// (align-text's from its metrics history when it logged none), one plot style with round ticks
// and a legend under the curves, named columns on the visual grid; rendered in headless Chromium.
import {expect} from 'chai'
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'
import {tmpDir} from '../helpers/tmp.js'
import {writeReport} from '../../src/report/report.js'
import {findLossLogs, parseLossLog} from '../../src/report/loss-curves.js'
import {writeManifest} from '../../src/stages/manifest.js'
import {linePlotSvg, logTicks, niceTicks} from '../../src/util/plot.js'
import {visualGridColumns} from '../../src/stages/visual/grid-columns.js'

function chromiumPath(): string | null {
  const find = () =>
    ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(p => existsSync(p)) ?? null
  if (find()) return find()
  spawnSync(
    'sh',
    [
      '-c',
      '(apt-get install -y -qq chromium || (apt-get update -qq && apt-get install -y -qq chromium)) >/dev/null 2>&1'
    ],
    {timeout: 600_000}
  )
  return find()
}

/** A losses.jsonl of `steps` lines in the trainer's format: total, two terms, lr. */
function lossLines(steps: number, terms: string[]): string {
  return (
    Array.from({length: steps}, (_, i) => {
      const step = i + 1
      const row: Record<string, number> = {step, lr: 1e-4 * Math.min(1, step / 10), loss: 2 / Math.sqrt(step)}
      terms.forEach((t, k) => {
        row[t] = ((k + 1) * 0.3) / step
      })
      return JSON.stringify(row)
    }).join('\n') + '\n'
  )
}

/** The numbers of an SVG's axis tick labels (text-anchor middle under the x axis, end for y). */
function tickLabels(svg: string, anchor: 'middle' | 'end'): number[] {
  return [...svg.matchAll(new RegExp(`<text x="[^"]+" y="[^"]+" text-anchor="${anchor}">([^<]+)</text>`, 'g'))]
    .map(m => Number(m[1]))
    .filter(Number.isFinite)
}

describe('report.html loss curves and figures', function () {
  this.timeout(600_000)
  let runDir: string

  before(async () => {
    runDir = tmpDir()
    const manifest = (stage: string) =>
      writeManifest(runDir, {
        medgen: '0.1.0',
        stage,
        status: 'complete',
        backend: 'wasm',
        seed: 1,
        config: {},
        configHash: 'x',
        inputs: {},
        outputs: {},
        startedAt: new Date().toISOString(),
        finishedAt: new Date().toISOString(),
        seconds: 1
      })
    for (const dir of ['visual', 'text', 'dit', 'classify/runs/real/seed-0', 'dit/checkpoints/checkpoint-4'])
      mkdirSync(join(runDir, dir), {recursive: true})
    for (const stage of ['visual', 'text', 'dit', 'classify']) await manifest(stage)
    // visual: a log and its own PNG of the same curves (left out of the report in favour of the log)
    writeFileSync(join(runDir, 'visual', 'losses.jsonl'), lossLines(40, ['reconstruction', 'dice', 'kl']))
    await sharp({create: {width: 30, height: 20, channels: 3, background: {r: 255, g: 0, b: 0}}})
      .png()
      .toFile(join(runDir, 'visual', 'loss-curves.png'))
    await sharp({create: {width: 50, height: 20, channels: 3, background: {r: 0, g: 0, b: 255}}})
      .png()
      .toFile(join(runDir, 'visual', 'grid.png'))
    // finetune-dit: a log whose last line training was still writing
    writeFileSync(join(runDir, 'dit', 'losses.jsonl'), lossLines(30, ['mse']) + '{"step": 31, "lo')
    writeFileSync(join(runDir, 'dit', 'checkpoints', 'checkpoint-4', 'losses.jsonl'), lossLines(4, ['mse']))
    // ... and the demo VAE's log beside it, long enough to be drawn as moving means
    writeFileSync(join(runDir, 'dit', 'vae-losses.jsonl'), lossLines(300, ['l1', 'kl']))
    await sharp({create: {width: 30, height: 20, channels: 3, background: {r: 0, g: 255, b: 0}}})
      .png()
      .toFile(join(runDir, 'dit', 'loss.png'))
    // classify: one log per protocol x seed run
    writeFileSync(join(runDir, 'classify', 'runs', 'real', 'seed-0', 'losses.jsonl'), lossLines(12, ['val_loss']))
    // align-text as stages write it today: no log, the per-epoch history in metrics.json
    writeFileSync(
      join(runDir, 'text', 'metrics.json'),
      JSON.stringify({
        training: {
          epochs: 3,
          history: [
            {epoch: 1, step: 10, loss: 0.9, align: 0.6, reconstruction: 0.3},
            {epoch: 2, step: 20, loss: 0.5, align: 0.3, reconstruction: 0.2},
            {epoch: 3, step: 30, loss: 0.35, align: 0.2, reconstruction: 0.15}
          ]
        }
      })
    )
    await writeReport(runDir)
  })

  it('reads losses.jsonl: every numeric term by step; a cut-off line is counted, not fatal', () => {
    const log = parseLossLog(
      '{"step": 1, "lr": 0.001, "loss": 2.5, "mse": 2.5, "note": "x"}\n\n{"step": 2, "loss": 2}\n{"loss": 1}\n{"step": 3, "lo',
      'f'
    )
    expect(log.rows).to.deep.equal([
      {step: 1, values: {lr: 0.001, loss: 2.5, mse: 2.5}},
      {step: 2, values: {loss: 2}}
    ])
    expect(log.unreadLines).to.equal(2)
  })

  it("finds the stage's logs and per-run logs, not the copies inside checkpoints", async () => {
    expect(await findLossLogs(join(runDir, 'dit'))).to.deep.equal([
      join(runDir, 'dit', 'losses.jsonl'),
      join(runDir, 'dit', 'vae-losses.jsonl')
    ])
    expect(await findLossLogs(join(runDir, 'classify'))).to.deep.equal([
      join(runDir, 'classify', 'runs', 'real', 'seed-0', 'losses.jsonl')
    ])
    expect(await findLossLogs(join(runDir, 'eval'))).to.deep.equal([])
  })

  it("draws each stage's curves from its log, align-text's from its history, in place of the stage's PNG", () => {
    const html = readFileSync(join(runDir, 'report.html'), 'utf8')
    for (const title of [
      'train-visual training loss',
      'finetune-dit training loss',
      'finetune-dit vae training loss',
      'classify training loss, per run',
      'align-text training loss'
    ]) {
      expect(html, title).to.match(new RegExp(`<img alt="${title}" src="data:image/svg\\+xml;base64,`))
    }
    expect(html).to.include('the losses.jsonl of 1 run under classify/, total loss: 12 logged steps')
    expect(html).to.include(
      'dit/losses.jsonl: 30 logged steps; lr 1.00e-5 to 1.00e-4; 1 line(s) not readable, left out'
    )
    expect(html).to.include('text/metrics.json (training.history, per epoch): 3 logged steps')
    expect(html).to.not.include('alt="dit/loss.png"')
    expect(html).to.not.include('alt="visual/loss-curves.png"')
    // the align-text figure holds its three terms, the total first
    const svg = Buffer.from(
      /<img alt="align-text training loss" src="data:image\/svg\+xml;base64,([^"]+)"/.exec(html)![1],
      'base64'
    ).toString('utf8')
    const legend = [...svg.matchAll(/<text x="[^"]+" y="[^"]+">([^<]+)<\/text>/g)].map(m => m[1])
    expect(legend).to.deep.equal(['loss (total)', 'align', 'reconstruction'])
    expect(svg, 'the total is drawn wider, under the terms').to.match(/^<polyline [^>]*stroke-width="4"/m)
    const runs = Buffer.from(
      /<img alt="classify training loss, per run" src="data:image\/svg\+xml;base64,([^"]+)"/.exec(html)![1],
      'base64'
    ).toString('utf8')
    expect([...runs.matchAll(/<text x="[^"]+" y="[^"]+">([^<]+)<\/text>/g)].map(m => m[1])).to.deep.equal([
      'real/seed-0'
    ])
    // 300 steps: the raw total in grey, then each term's moving mean over 1/20 of the run
    const vae = Buffer.from(
      /<img alt="finetune-dit vae training loss" src="data:image\/svg\+xml;base64,([^"]+)"/.exec(html)![1],
      'base64'
    ).toString('utf8')
    expect([...vae.matchAll(/<text x="[^"]+" y="[^"]+">([^<]+)<\/text>/g)].map(m => m[1])).to.deep.equal([
      'loss (total), per step',
      'loss (total), mean of 15',
      'l1, mean of 15',
      'kl, mean of 15'
    ])
  })

  it('names the columns of the visual grid over the image', () => {
    const html = readFileSync(join(runDir, 'report.html'), 'utf8')
    const figure = /<figure class="grid"[^>]*><div class="columns"[^>]*>(.*?)<\/div><img alt="visual\/grid.png"/.exec(
      html
    )
    expect(figure, 'grid figure with a column row').to.not.equal(null)
    expect([...figure![1].matchAll(/<span>([^<]*)<\/span>/g)].map(m => m[1].replace('&#39;', "'"))).to.deep.equal([
      ...visualGridColumns
    ])
  })

  it('one plot style: ticks at round values on both axes, the legend under the plot area', () => {
    const steps = Array.from({length: 800}, (_, i) => i + 1)
    const svg = linePlotSvg(
      [
        {name: 'loss (total)', points: steps.map(s => [s, 0.013 + 2.7 / s])},
        {name: 'a second term with a long name', points: steps.map(s => [s, 0.5 + 0.001 * s])}
      ],
      {title: 't', xLabel: 'step', yLabel: 'value', width: 400, height: 300}
    )
    expect(tickLabels(svg, 'middle')).to.deep.equal([0, 200, 400, 600, 800])
    const y = tickLabels(svg, 'end')
    expect(y.length).to.be.within(4, 8)
    for (const v of y) expect(Math.abs(v / 0.5 - Math.round(v / 0.5)), `y tick ${v}`).to.be.below(1e-9)
    const frame = /<rect x="64" y="(\d+)" width="\d+" height="([\d.]+)" fill="none"/.exec(svg)!
    const bottom = Number(frame[1]) + Number(frame[2])
    const curveYs = [...svg.matchAll(/points="([^"]+)"/g)].flatMap(m =>
      m[1].split(' ').map(p => Number(p.split(',')[1]))
    )
    expect(Math.max(...curveYs)).to.be.at.most(bottom)
    const legendYs = [
      ...svg.matchAll(/<text x="[^"]+" y="([^"]+)">(loss \(total\)|a second term with a long name)<\/text>/g)
    ].map(m => Number(m[1]))
    expect(legendYs).to.have.length(2)
    for (const ly of legendYs) expect(ly, 'legend below the x-axis label').to.be.greaterThan(bottom + 32)
    expect(svg).to.match(/<svg [^>]*height="300"/)
    expect(niceTicks(1, 800)).to.deep.equal([200, 400, 600, 800])
    expect(logTicks(Math.log10(0.001), Math.log10(10))).to.deep.equal([0.001, 0.01, 0.1, 1, 10])
    expect(logTicks(Math.log10(0.3), Math.log10(4))).to.deep.equal([0.5, 1, 2])
  })

  it('renders in headless Chromium with every image, the inlined SVG curves included, decoded', function () {
    const chromium = chromiumPath()
    if (!chromium) {
      console.log('      (chromium is not installed and apt-get could not install it: rendering check skipped)')
      this.skip()
    }
    const probe = join(runDir, 'probe.html')
    writeFileSync(
      probe,
      readFileSync(join(runDir, 'report.html'), 'utf8').replace(
        '</body>',
        `<script>window.addEventListener('load', () => {
      const imgs = [...document.images]
      document.body.dataset.images = imgs.length + '/' + imgs.filter(i => i.complete && i.naturalWidth > 0).length
      const grid = document.querySelector('figure.grid')
      const labels = [...grid.querySelectorAll('.columns span')].map(s => Math.round(s.getBoundingClientRect().left - grid.querySelector('img').getBoundingClientRect().left))
      document.body.dataset.columnLefts = labels.join(',') + ';' + Math.round(grid.querySelector('img').getBoundingClientRect().width)
    })</script></body>`
      )
    )
    const dom = execFileSync(
      chromium!,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
        `--user-data-dir=${join(runDir, 'profile')}`,
        '--virtual-time-budget=5000',
        '--dump-dom',
        `file://${probe}`
      ],
      {encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore']}
    )
    const images = /data-images="(\d+)\/(\d+)"/.exec(dom)
    expect(images, 'the probe script ran').to.not.equal(null)
    expect(Number(images![1])).to.equal(6) // 5 loss curves + the grid
    expect(images![2], 'images decoded').to.equal(images![1])
    // each column label starts where its fifth of the image starts
    const [lefts, width] = /data-column-lefts="([^"]+)"/.exec(dom)![1].split(';')
    expect(
      lefts
        .split(',')
        .map(Number)
        .map(l => Math.round(l / (Number(width) / 5)))
    ).to.deep.equal([0, 1, 2, 3, 4])
  })
})
