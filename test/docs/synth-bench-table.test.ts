// scripts/synth-bench-table.mjs (issue 19 item 5): mean and 95% interval over seeds per mode from
// the runs' metrics files, and the docs block it rewrites.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {tmpDir} from '../helpers/tmp.js'

const script = new URL('../../scripts/synth-bench-table.mjs', import.meta.url).pathname

describe('synth-bench table', () => {
  it('summarises each mode over seeds (mean ± t-interval) and replaces only the marked block', async () => {
    const base = tmpDir()
    const gains: Record<string, number[]> = {hffm: [0.5, 0.6, 0.7], class: [0.1, 0.1, 0.1]}
    for (const [mode, values] of Object.entries(gains)) {
      for (const [k, g] of values.entries()) {
        const dir = join(base, `${mode}-s${k + 1}`)
        await fs.mkdir(join(dir, 'eval'), {recursive: true})
        await fs.writeFile(
          join(dir, 'eval', 'metrics.json'),
          JSON.stringify({
            metrics: {
              control: {gain: {anatomy: g, style: g / 2, ceilingUsed: 'decoded'}, styleSwapMaskIoU: 0.8},
              hfd: {value: 10}
            }
          })
        )
      }
    }
    const doc = join(base, 'RESULTS.md')
    await fs.writeFile(doc, 'before\n<!-- synth-bench:begin -->\nold\n<!-- synth-bench:end -->\nafter\n')
    const out = execFileSync(
      process.execPath,
      [script, base, '--seeds', '1 2 3', '--modes', 'hffm class', '--write', doc],
      {encoding: 'utf8'}
    )
    // hffm anatomy: mean 0.6, sd 0.1, half-width 4.303 * 0.1 / sqrt(3) = 0.248
    expect(out).to.match(/\| hffm \| 0\.600 ± 0\.248 \| 0\.300 ± 0\.124 \| 0\.800 ± 0\.000 \|/)
    expect(out).to.match(/\| class \| 0\.100 ± 0\.000 \|/)
    const written = await fs.readFile(doc, 'utf8')
    expect(written.startsWith('before\n<!-- synth-bench:begin -->\n')).to.equal(true)
    expect(written.endsWith('<!-- synth-bench:end -->\nafter\n')).to.equal(true)
    expect(written).to.not.include('old')
    expect(written).to.include('| hffm | 0.600 ± 0.248')
  })
})
