// The built CLI (issue 2, items 1-3 and 9): `medgen --help` lists every command quickly, stubbed
// stages exit 2, `forward` with an unknown architecture and config typos are one-line exit-2 errors.
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {UserError} from '../../src/errors.js'
import {tmpDir} from '../helpers/tmp.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const COMMANDS = ['synth', 'caption', 'train-visual', 'align-text', 'finetune-dit', 'generate', 'eval', 'classify', 'run', 'config', 'forward', 'check-weights']

function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : entry.name.endsWith('.ts') ? statSync(path).mtimeMs : 0)
  }
  return newest
}

/** Compiles dist/ and the oclif manifest when they are missing or older than src/. */
function ensureBuilt(): void {
  const stamp = join(root, 'oclif.manifest.json')
  if (existsSync(join(root, 'dist', 'commands')) && existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource(join(root, 'src'))) return
  // tsc emits even when some file has type errors (the typecheck step of `npm test` reports those);
  // the manifest step needs the emitted commands only.
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {cwd: root, encoding: 'utf8'})
  if (tsc.status !== 0) console.warn(`      (tsc reported type errors; testing the emitted JavaScript)\n${tsc.stdout.split('\n').slice(0, 5).join('\n')}`)
  const manifest = spawnSync(process.execPath, ['scripts/manifest.mjs'], {cwd: root, encoding: 'utf8'})
  if (manifest.status !== 0) throw new Error(`building the oclif manifest failed: ${manifest.stderr}`)
}

function medgen(...args: string[]): {status: number | null, stdout: string, stderr: string, ms: number} {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), ...args], {cwd: root, encoding: 'utf8', env: {...process.env, MEDGEN_DEBUG: ''}})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0}
}

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
    const r = medgen('forward', '--arch', 'resnet-9000', '--weights', 'w', '--inputs', 'i.safetensors', '--out', 'o.safetensors')
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
