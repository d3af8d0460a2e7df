// CLI conventions (issue 21 "CLI conventions", issue 23 class 9): oclif's parse errors keep
// their reason, -h and `medgen help CMD` work, a mistyped command gets the nearest one.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {ensureBuilt, medgen} from '../helpers/cli.js'
import {tmpDir} from '../helpers/tmp.js'
import {legacyResume} from '../../src/commands/finetune-dit.js'
import {buildItems, resolveRequest} from '../../src/stages/generate/items.js'

function oneLine(r: {stderr: string}): string {
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).to.have.length(1)
  return lines[0]
}

describe('medgen CLI conventions (built)', function () {
  this.timeout(120_000)
  before(() => ensureBuilt())

  it('a bad flag value names the flag and the reason on one line, exit 2', () => {
    const rank = medgen(['finetune-dit', '--rank', 'abc'])
    expect(rank.status).to.equal(2)
    expect(oneLine(rank)).to.equal(
      'medgen: Parsing --rank: Expected an integer but received: abc; see medgen finetune-dit --help'
    )
    const steps = medgen(['finetune-dit', '--steps', '1e12'])
    expect(steps.status).to.equal(2)
    expect(oneLine(steps)).to.include('Expected an integer but received: 1e12')
  })

  it('a missing argument names it and says why a --set before it would have eaten it', () => {
    const r = medgen(['run'])
    expect(r.status).to.equal(2)
    expect(oneLine(r)).to.match(/^medgen: Missing 1 required arg: config .*multi-value flags such as --set/)
  })

  it('-h and `medgen help CMD` print the command help, exit 0', () => {
    const short = medgen(['caption', '-h'])
    const long = medgen(['help', 'caption'])
    for (const r of [short, long]) {
      expect(r.status, r.stderr).to.equal(0)
      expect(r.stdout).to.include('Caption every image of a dataset')
      expect(r.stdout).to.include('FLAGS')
    }
  })

  it('a mistyped command suggests the nearest one, exit 2', () => {
    const r = medgen(['captio'])
    expect(r.status).to.equal(2)
    expect(oneLine(r)).to.equal('medgen: captio is not a medgen command; did you mean `medgen caption`?')
    const far = medgen(['xyzzy'])
    expect(far.status).to.equal(2)
    expect(oneLine(far)).to.include('`medgen --help` lists the commands')
  })

  it('flags that set a config key name it and its default; enum flags list their options; diffusers spellings', () => {
    const dit = medgen(['finetune-dit', '--help'])
    expect(dit.status, dit.stderr).to.equal(0)
    const help = dit.stdout.replace(/\s+/g, ' ')
    expect(help).to.include('LoRA rank (config dit.lora.rank, default 8)')
    expect(help).to.include('optimizer steps (diffusers: --max-train-steps) (config dit.steps, default 2000)')
    expect(help).to.match(/--backend=<option>.*<options: auto\|tensorflow-gpu\|tensorflow\|wasm\|cpu>/)
    for (const flag of ['--learning-rate', '--train-batch-size', '--resolution', '--resume-from'])
      expect(help).to.include(flag)
    const gen = medgen(['generate', '--help']).stdout.replace(/\s+/g, ' ')
    expect(gen).to.include('--sampling-steps=<value> denoising steps per image')
    expect(gen).to.include('--num-images')
    const proto = medgen(['classify', '--protocol', 'real,fake'])
    expect(proto.status).to.equal(2)
    expect(oneLine(proto)).to.include('Expected --protocol=fake to be one of: real, real+synthetic, synthetic')
    const lr = medgen(['finetune-dit', '--learning-rate', 'fast'])
    expect(lr.status).to.equal(2)
    expect(oneLine(lr)).to.equal('medgen: --learning-rate fast: expected a number > 0, e.g. 1e-4')
  })

  it("every command that produces results takes --json (oclif's flag; check-weights has its own)", async () => {
    for (const name of [
      'caption',
      'train-visual',
      'align-text',
      'finetune-dit',
      'generate',
      'classify',
      'eval',
      'run'
    ]) {
      const command = (await import(`../../src/commands/${name}.js`)).default as {enableJsonFlag?: boolean}
      expect(command.enableJsonFlag, name).to.equal(true)
    }
    const check = (await import('../../src/commands/check-weights.js')).default as {flags: Record<string, unknown>}
    expect(check.flags).to.have.property('json')
  })

  it('run a.yaml -c b.yaml is an error naming both, not a silent choice', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'a.yaml'), 'run:\n  seed: 1\n')
    writeFileSync(join(dir, 'b.yaml'), 'run:\n  seed: 2\n')
    const r = medgen(['run', 'a.yaml', '-c', 'b.yaml'], {cwd: dir})
    expect(r.status).to.equal(2)
    expect(oneLine(r)).to.equal(
      'medgen: medgen run a.yaml -c b.yaml: two configs; give one (layer settings on it with --set)'
    )
  })

  it('finetune-dit --resume is a boolean like everywhere else; the old --resume latest|<folder> still parse', () => {
    expect(legacyResume(['--resume', 'latest', '--rank', '4'])).to.deep.equal(['--resume', '--rank', '4'])
    expect(legacyResume(['--resume', 'runs/x/dit/checkpoints/checkpoint-10'])).to.deep.equal([
      '--resume-from',
      'runs/x/dit/checkpoints/checkpoint-10'
    ])
    expect(legacyResume(['--resume=latest'])).to.deep.equal(['--resume'])
    expect(legacyResume(['--resume', '--force'])).to.deep.equal(['--resume', '--force'])
    expect(legacyResume(['--no-resume'])).to.deep.equal(['--no-resume'])
  })

  it('generate --prompt P --seed 7 has the seed in the id (no overwrite); --num-images N gives N ids', async () => {
    const request = await resolveRequest({prompts: ['dark lesion']}, {perClass: 8})
    const ctx = {runDir: tmpDir(), dataKind: 'auto' as const}
    const [a] = await buildItems(request, {...ctx, runSeed: 42})
    const [b] = await buildItems(request, {...ctx, runSeed: 7})
    expect(a.id).to.match(/^prompt-0-[0-9a-f]+-s42$/)
    expect(b.id).to.match(/-s7$/)
    expect(a.seed).to.not.equal(b.seed)
    const three = await buildItems(
      await resolveRequest({prompts: ['dark lesion'], imagesPerPrompt: 3}, {perClass: 8}),
      {...ctx, runSeed: 7}
    )
    expect(three.map(i => i.id.replace(/^prompt-0-[0-9a-f]+-/, 'prompt-0-H-'))).to.deep.equal([
      'prompt-0-H-s7-0',
      'prompt-0-H-s7-1',
      'prompt-0-H-s7-2'
    ])
    expect(new Set(three.map(i => i.seed)).size).to.equal(3)
  })

  it("generate with no prompt flags makes what medgen run makes (the config's swap pairs and control grid); any prompt flag makes only what it asks", async () => {
    const defaults = {perClass: 8, swapPairs: 2, controlGrid: true}
    const bare = await resolveRequest({}, defaults)
    expect(bare).to.include({perClass: 8, swapPairs: 2, controlGrid: true})
    const prompt = await resolveRequest({prompts: ['dark lesion']}, defaults)
    expect(prompt.perClass).to.equal(undefined)
    expect(prompt.swapPairs).to.equal(undefined)
    expect(prompt.controlGrid).to.equal(undefined)
    const onlyGrid = await resolveRequest({controlGrid: true}, defaults)
    expect(onlyGrid.swapPairs).to.equal(undefined)
    expect(onlyGrid.perClass).to.equal(undefined)
  })
})
