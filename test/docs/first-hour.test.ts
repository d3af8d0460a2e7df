// What a new user reads before running anything (issue 21 "The README's flow"): how `medgen`
// gets on PATH, that the Slurm examples call `medgen` (not `npx medgen`, which resolves only in
// the checkout), how relative config paths resolve, OLLAMA_HOST, the imagefolder metadata.csv,
// and the documented exit code for incomplete results.
import {expect} from 'chai'
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {repoRoot} from '../helpers/cli.js'
import {ExitCode} from '../../src/errors.js'

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8').replace(/\s+/g, ' ')

describe('README: the first hour', () => {
  it('says how medgen gets on PATH, and the sbatch examples use that', () => {
    expect(readme).to.include('npm link # puts `medgen` on your PATH')
    expect(readme).to.include('`npx medgen` finds it only from inside the repository')
    const dir = join(repoRoot, 'examples', 'slurm')
    for (const f of readdirSync(dir).filter(n => n.endsWith('.sbatch'))) {
      const text = readFileSync(join(dir, f), 'utf8')
      expect(text, f).to.not.match(/npx medgen/)
      expect(text, f).to.include('`npm link`')
    }
  })

  it('says how relative config paths resolve, where caption.host comes from, and the imagefolder form', () => {
    expect(readme).to.include('are relative to the working directory, not to the config file')
    expect(readme).to.include('defaults to `$OLLAMA_HOST` when it is set')
    expect(readme).to.include('`captions/metadata.csv` has `file_name,text`')
    expect(readme).to.include('load_dataset("imagefolder"')
  })

  it('documents exit 3 for results written with something asked for missing', () => {
    expect(ExitCode.incomplete).to.equal(3)
    expect(readme).to.include('Exit 3 means the results were written but something asked for is missing')
    expect(readme).to.include('--allow-failures N')
  })
})
