// report.html's control section (issue 19): the control figure and the control figures read
// against their references, taken from eval/metrics.json.
import {expect} from 'chai'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'
import {tmpDir} from '../helpers/tmp.js'
import {controlSection} from '../../src/report/control-section.js'

describe('report: control section', () => {
  it('shows the control grid and accuracy, shuffled, ceilings, gain and swaps from eval/metrics.json', async () => {
    const runDir = tmpDir()
    await fs.mkdir(join(runDir, 'eval'), {recursive: true})
    await fs.mkdir(join(runDir, 'samples'), {recursive: true})
    await sharp({create: {width: 8, height: 8, channels: 3, background: '#a07050'}})
      .png()
      .toFile(join(runDir, 'samples', 'control-grid.png'))
    const control = {
      anatomyAccuracy: 0.61,
      styleAccuracy: 0.72,
      perAttributeAccuracy: {size: 0.8, colour: 0.7},
      shuffled: {
        withinClass: {anatomy: 0.31, style: 0.42, perAttribute: {size: 0.3, colour: 0.4}},
        all: {anatomy: 0.29, style: 0.4}
      },
      ceiling: {
        real: {anatomy: 0.91, style: 0.97},
        decoded: {anatomy: 0.81, style: 0.87, perAttribute: {size: 0.9, colour: 0.85}},
        decoder: 'VAE dit/vae'
      },
      gain: {anatomy: 0.6, style: 0.6667, perAttribute: {size: 0.8333, colour: 0.6667}, ceilingUsed: 'decoded'},
      styleSwapPairs: 14,
      styleSwapMaskIoU: 0.74,
      anatomySwapPairs: 14,
      anatomySwapColourAgreement: 0.81
    }
    await fs.writeFile(join(runDir, 'eval', 'metrics.json'), JSON.stringify({metrics: {control}}))
    const html = (await controlSection(runDir))!
    expect(html).to.include('data:image/png;base64,')
    for (const v of ['0.610', '0.310', '0.290', '0.910', '0.810', '0.600', '0.667', '0.833', '0.740', '0.810'])
      expect(html).to.include(v)
    expect(html).to.include('over 14 pairs')
  })

  it('is absent when the run has neither a control metric nor a control grid', async () => {
    expect(await controlSection(tmpDir())).to.equal(null)
  })
})
