// report.html opens in a real browser without a server and its images render: headless
// Chromium (Debian's package, installed here if missing) takes a screenshot and the test
// finds the colours of the inlined figures in it.
import {expect} from 'chai'
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'
import {tmpDir} from '../helpers/tmp.js'
import {writeReport} from '../../src/report/report.js'
import {writeManifest} from '../../src/stages/manifest.js'

function findChromium(): string | null {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'])
    if (existsSync(p)) return p
  return null
}

function ensureChromium(): string | null {
  let path = findChromium()
  if (path) return path
  // Test setup installs Debian's chromium when we are root and apt works (CI, dev machines).
  const r = spawnSync(
    'sh',
    [
      '-c',
      '(apt-get install -y -qq chromium || (apt-get update -qq && apt-get install -y -qq chromium)) >/dev/null 2>&1'
    ],
    {timeout: 600_000}
  )
  path = findChromium()
  if (!path) console.log(`    (chromium could not be installed: exit ${r.status}; report rendering test skipped)`)
  return path
}

async function solidPng(path: string, rgb: [number, number, number]): Promise<void> {
  await sharp({create: {width: 48, height: 48, channels: 3, background: {r: rgb[0], g: rgb[1], b: rgb[2]}}})
    .png()
    .toFile(path)
}

describe('report.html', function () {
  this.timeout(900_000)
  let runDir: string

  before(async () => {
    runDir = tmpDir()
    mkdirSync(join(runDir, 'visual'), {recursive: true})
    mkdirSync(join(runDir, 'eval'), {recursive: true})
    await solidPng(join(runDir, 'visual', 'grid.png'), [255, 0, 255])
    await solidPng(join(runDir, 'eval', 'curve.png'), [0, 200, 0])
    writeFileSync(
      join(runDir, 'eval', 'metrics.json'),
      JSON.stringify({hfd: {value: 12.5, definition: 'high-frequency FD'}})
    )
    for (const stage of ['visual', 'eval']) {
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
        seconds: 1.5
      })
    }
    writeFileSync(join(runDir, 'run.json'), JSON.stringify({config: 'configs/demo.yaml', backend: 'wasm', seconds: 3}))
    await writeReport(runDir)
  })

  it('is self-contained: images inlined, metrics and timings present', () => {
    const html = readFileSync(join(runDir, 'report.html'), 'utf8')
    expect(html).to.match(/<img alt="visual\/grid.png" src="data:image\/png;base64,/)
    expect(html).to.contain('hfd.value')
    expect(html).to.contain('12.500')
    expect(html).to.not.match(/src="(?!data:)/) // nothing fetched from elsewhere
  })

  it('renders its images in headless Chromium', async function () {
    const chromium = ensureChromium()
    if (!chromium) this.skip()
    const shot = join(runDir, 'shot.png')
    execFileSync(
      chromium!,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${join(runDir, 'profile')}`,
        '--window-size=1200,1600',
        `--screenshot=${shot}`,
        `file://${join(runDir, 'report.html')}`
      ],
      {stdio: 'ignore', timeout: 120_000}
    )
    const {data, info} = await sharp(shot).removeAlpha().raw().toBuffer({resolveWithObject: true})
    let magenta = 0
    let green = 0
    for (let i = 0; i < info.width * info.height; i++) {
      const [r, g, b] = [data[3 * i], data[3 * i + 1], data[3 * i + 2]]
      if (r > 240 && g < 20 && b > 240) magenta++
      if (r < 20 && g > 180 && g < 220 && b < 20) green++
    }
    expect(magenta, 'magenta grid pixels on screen').to.be.greaterThan(500)
    expect(green, 'green curve pixels on screen').to.be.greaterThan(500)
  })
})
