// report.html flags a classify protocol whose BACC is within 1.5x of chance (1/k), and only that one.
import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tmpDir} from '../helpers/tmp.js'
import {buildReport} from '../../src/report/report.js'
import {writeManifest} from '../../src/stages/manifest.js'
import {chanceBacc, nearChance} from '../../src/stages/classify/report.js'

describe('classify: near-chance flag', () => {
  it('threshold is 1.5 x 1/k', () => {
    expect(chanceBacc(7)).to.be.closeTo(0.142857, 1e-6)
    expect(nearChance(1 / 7, 7)).to.equal(true)
    expect(nearChance(0.2, 7)).to.equal(true) // 0.2 < 1.5/7 = 0.214
    expect(nearChance(0.22, 7)).to.equal(false)
    expect(nearChance(null, 7)).to.equal(true)
  })

  it('report.html names the collapsed protocol and not the one that learned', async () => {
    const runDir = tmpDir()
    mkdirSync(join(runDir, 'classify'), {recursive: true})
    const protocol = (bacc: number) => ({
      summary: {balancedAccuracy: {mean: bacc, std: 0, perSeed: [bacc]}},
      nearChance: nearChance(bacc, 7)
    })
    writeFileSync(
      join(runDir, 'classify', 'metrics.json'),
      JSON.stringify({
        chance: {balancedAccuracy: 1 / 7},
        protocols: {'real': protocol(0.52), 'real+synthetic': protocol(1 / 7)}
      })
    )
    await writeManifest(runDir, {
      medgen: '0.1.0',
      stage: 'classify',
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
    const html = await buildReport(runDir)
    const warning = /<p class="warning"[^>]*>([^<]*)<\/p>/.exec(html)?.[1] ?? ''
    expect(warning).to.contain('real+synthetic (BACC 0.143)')
    expect(warning).to.contain('1/7')
    expect(warning).to.not.match(/(^|[^+])real \(BACC/)
  })
})
