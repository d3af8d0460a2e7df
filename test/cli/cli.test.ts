// The built CLI (issue 2, items 1-3 and 9): `medgen --help` lists every command quickly, stubbed
// stages exit 2, `forward` with an unknown architecture and config typos are one-line exit-2 errors.
import {expect} from 'chai'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tmpDir} from '../helpers/tmp.js'
import {ensureBuilt, medgen as runMedgen, repoRoot} from '../helpers/cli.js'

const root = repoRoot
const COMMANDS = [
  'synth',
  'caption',
  'train-visual',
  'align-text',
  'finetune-dit',
  'generate',
  'eval',
  'classify',
  'run',
  'config',
  'forward',
  'check-weights'
]

/** The built CLI with variadic arguments, as this file's cases read. */
const medgen = (...args: string[]) => runMedgen(args)

describe('medgen CLI (built)', function () {
  this.timeout(300_000)
  before(() => ensureBuilt())

  it('--help lists every command in under 2 s', () => {
    medgen('--help') // warm the file cache once, as a second invocation by a user would be
    const r = medgen('--help')
    expect(r.status, r.stderr).to.equal(0)
    for (const command of COMMANDS) expect(r.stdout, command).to.match(new RegExp(`^\\s+${command}\\s`, 'm'))
    console.log(`      medgen --help: ${r.ms.toFixed(0)} ms`)
    expect(r.ms).to.be.below(2000)
  })

  it('each command has --help with a description, examples and flags', () => {
    for (const command of ['synth', 'finetune-dit', 'forward', 'config']) {
      const r = medgen(command, '--help')
      expect(r.status, `${command}: ${r.stderr}`).to.equal(0)
      expect(r.stdout, command).to.include('DESCRIPTION')
      expect(r.stdout, command).to.include('EXAMPLES')
      expect(r.stdout, command).to.include('FLAGS')
    }
  })

  it('every stage has landed: no command is a "not implemented" stub any more', () => {
    for (const f of readdirSync(join(root, 'src', 'commands'))) {
      expect(readFileSync(join(root, 'src', 'commands', f), 'utf8'), f).to.not.match(/not implemented/i)
    }
  })

  it('forward with an unknown architecture exits 2 with one line naming it', () => {
    const r = medgen(
      'forward',
      '--arch',
      'resnet-9000',
      '--weights',
      'w',
      '--inputs',
      'i.safetensors',
      '--out',
      'o.safetensors'
    )
    expect(r.status).to.equal(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines).to.have.length(1)
    expect(lines[0]).to.match(/^medgen: --arch resnet-9000: unknown architecture; known: /)
  })

  it('config validate: a typo exits 2 with the nearest key; schema, show and --set work', () => {
    const dir = tmpDir()
    const typo = join(dir, 'typo.yaml')
    writeFileSync(typo, 'dit:\n  lora:\n    rnk: 4\n')
    const bad = medgen('config', 'validate', '--config', typo)
    expect(bad.status).to.equal(2)
    expect(bad.stderr.trim()).to.equal(`medgen: ${typo}: dit.lora.rnk: unknown key; did you mean dit.lora.rank?`)
    const good = join(dir, 'good.yaml')
    writeFileSync(good, 'dit:\n  lora:\n    rank: 4\n')
    expect(medgen('config', 'validate', '--config', good).status).to.equal(0)
    const shown = medgen('config', 'show', '--config', good, '--set', 'dit.steps=7')
    expect(shown.status, shown.stderr).to.equal(0)
    expect(shown.stdout).to.match(/rank: 4/)
    expect(shown.stdout).to.match(/steps: 7/)
    const schema = medgen('config', 'schema')
    expect(schema.status).to.equal(0)
    expect(schema.stdout).to.match(/^dit\.lora\.rank {2}\(number, default 8\)\n {4}LoRA rank/m)
    const flagTypo = medgen('config', 'show', '--set', 'dit.lora.rnk=2')
    expect(flagTypo.status).to.equal(2)
    expect(flagTypo.stderr).to.include('did you mean dit.lora.rank?')
  })
})
