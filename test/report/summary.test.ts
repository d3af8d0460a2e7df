// report.html's summary (issue 21 "report.html"): one table of every eval metric and the
// classify table with mean ± std per protocol, first on the page; rendered in headless Chromium
// (Debian's package; .ci/run installs it), where every <img> must have loaded.
import {expect} from 'chai'
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'
import {tmpDir} from '../helpers/tmp.js'
import {writeReport} from '../../src/report/report.js'
import {writeManifest} from '../../src/stages/manifest.js'

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

const classifyTable = `# classify: small-cnn, 2 seed(s), tested on the real test split (40 images)

| protocol | F1 (weighted) | BACC | seeds |
| --- | --- | --- | --- |
| real | 0.612 ± 0.010 | 0.550 ± 0.020 | 2 |
| real+synthetic | 0.655 ± 0.004 | 0.590 ± 0.011 | 2 |

Per-seed values:

| protocol | seed | F1 (weighted) |
| --- | --- | --- |
| real | 42 | 0.602 |
`

describe('report.html summary', function () {
  this.timeout(600_000)
  let runDir: string

  before(async () => {
    runDir = tmpDir()
    for (const stage of ['visual', 'classify', 'eval']) {
      mkdirSync(join(runDir, stage), {recursive: true})
      await writeManifest(runDir, {
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
    }
    await sharp({create: {width: 40, height: 24, channels: 3, background: {r: 10, g: 90, b: 200}}})
      .png()
      .toFile(join(runDir, 'visual', 'grid.png'))
    await sharp({create: {width: 30, height: 30, channels: 3, background: {r: 200, g: 90, b: 10}}})
      .png()
      .toFile(join(runDir, 'classify', 'confusion-real.png'))
    writeFileSync(join(runDir, 'classify', 'table.md'), classifyTable)
    writeFileSync(
      join(runDir, 'eval', 'metrics.json'),
      JSON.stringify({
        metrics: {
          fid: {definition: 'FID: Fréchet distance of Inception features', skipped: 'needs weights.inception'},
          kid: {definition: 'KID: unbiased MMD²', value: 0.0123, std: 0.0021, nReal: 40, nGen: 64},
          hfd: {definition: 'Fréchet distance of high-frequency spectra', value: 17.5648, nReal: 40, nGen: 64}
        }
      })
    )
    await writeReport(runDir)
  })

  it('starts with one summary: every eval metric (value ± std or why skipped) and the classify means per protocol', () => {
    const html = readFileSync(join(runDir, 'report.html'), 'utf8')
    const summary = html.indexOf('<section id="summary">')
    expect(summary).to.be.greaterThan(0)
    expect(summary).to.be.below(html.indexOf('<h2>Stages</h2>'))
    const section = html.slice(summary, html.indexOf('</section>', summary))
    expect(section).to.include('<td>kid</td><td>0.012300 ± 0.00210</td><td>40 real / 64 generated</td>')
    expect(section).to.include('<td>hfd</td><td>17.565</td>')
    expect(section).to.include('<td>fid</td><td>skipped: needs weights.inception</td>')
    expect(section).to.include('<tr><td>real+synthetic</td><td>0.655 ± 0.004</td><td>0.590 ± 0.011</td><td>2</td></tr>')
    expect(section).to.not.include('<td>42</td>') // the per-seed table stays in the classify section
  })

  it('renders in headless Chromium with every image loaded and the summary table in the DOM', function () {
    const chromium = chromiumPath()
    if (!chromium) {
      console.log('      (chromium is not installed and apt-get could not install it: rendering check skipped)')
      this.skip()
    }
    // A copy of the page with a script that records, after load, how many images decoded.
    const probe = join(runDir, 'probe.html')
    const html = readFileSync(join(runDir, 'report.html'), 'utf8')
    writeFileSync(
      probe,
      html.replace(
        '</body>',
        `<script>window.addEventListener('load', () => {
      const imgs = [...document.images]
      document.body.dataset.images = imgs.length + '/' + imgs.filter(i => i.complete && i.naturalWidth > 0).length
      document.body.dataset.summaryRows = String(document.querySelectorAll('#summary table tr').length)
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
    expect(Number(images![1])).to.equal(2)
    expect(images![2], 'images decoded').to.equal(images![1])
    expect(/data-summary-rows="(\d+)"/.exec(dom)![1]).to.equal('7') // 1 + 3 eval rows, 1 + 2 classify rows
  })
})
