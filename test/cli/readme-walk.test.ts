// The README's pipeline table, command by command, as a new user types it (issue 21 "The
// README's flow"): each row's command runs in a fresh folder with nothing but tiny sizes added
// through --set, and must exit 0. The run dir remembers the dataset `medgen caption ./ham10000`
// was given, so no later command needs data.path. Then a flat folder (images, no class folders).
import {expect} from 'chai'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'
import {ensureBuilt, medgen, repoRoot} from '../helpers/cli.js'
import {tmpDir} from '../helpers/tmp.js'

/** Small enough that the whole table runs in about a minute on 2 cores. */
const tiny: Record<string, string | number> = {
  'synth.n': 24,
  'synth.size': 32,
  'data.imageSize': 32,
  'visual.imageSize': 32,
  'text.encoder': 'hashed',
  'text.hashedDim': 64,
  'text.epochs': 1,
  'text.tsnePoints': 0,
  'dit.steps': 2,
  'dit.batchSize': 4,
  'dit.warmupSteps': 1,
  'dit.checkpointingSteps': 2,
  'generate.steps': 2,
  'generate.perClass': 1,
  'classify.seeds': 1,
  'classify.epochs': 1
}
const tinySets = Object.entries(tiny).flatMap(([k, v]) => ['--set', `${k}=${v}`])

/** The commands of the README's pipeline table, in order, split like a shell would. */
function readmeCommands(): string[][] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  const table = readme.slice(readme.indexOf('<!-- stages:pipeline'), readme.indexOf('<!-- /stages:pipeline -->'))
  return [...table.matchAll(/^\| `(medgen [^`]+)` \|/gm)].map(m =>
    [...m[1].matchAll(/"([^"]*)"|(\S+)/g)].map(t => t[1] ?? t[2]).slice(1)
  )
}

describe('the README pipeline table, run command by command (built CLI)', function () {
  // ~100 s on 2 idle cores; far more when the machine is shared
  this.timeout(1_500_000)
  before(() => ensureBuilt())

  it('every row exits 0 in a fresh folder; later commands reuse the dataset caption was given', () => {
    const cwd = tmpDir()
    const commands = readmeCommands()
    let visualManifest = ''
    expect(commands.map(c => c[0])).to.deep.equal([
      'synth',
      'caption',
      'train-visual',
      'align-text',
      'finetune-dit',
      'generate',
      'classify',
      'eval',
      'run'
    ])
    for (const args of commands) {
      if (args[0] === 'run') {
        // CONFIG: the same settings as a file; every stage is then up to date and report.html is written.
        visualManifest = readFileSync(join(cwd, 'runs/medgen/visual/manifest.json'), 'utf8')
        const yaml =
          Object.entries(tiny)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n') + `\ndata.path: ${join(cwd, 'ham10000')}\nsynth.out: ./ham10000\n`
        writeFileSync(join(cwd, 'walk.yaml'), nest(yaml))
        args.splice(1, 1, 'walk.yaml')
      }
      const r = medgen([...args, ...tinySets], {cwd, env: {MEDGEN_QUIET: '1'}})
      console.log(`      medgen ${args.join(' ')}: ${(r.ms / 1000).toFixed(1)} s`)
      expect(r.status, `medgen ${args.join(' ')}: ${r.stderr}`).to.equal(0)
      if (args[0] === 'caption') {
        expect(JSON.parse(readFileSync(join(cwd, 'runs/medgen/dataset.json'), 'utf8')).path).to.equal(
          join(cwd, 'ham10000')
        )
      }
    }
    expect(
      readFileSync(join(cwd, 'runs/medgen/visual/manifest.json'), 'utf8'),
      'medgen run redid train-visual'
    ).to.equal(visualManifest)
    // report.html draws the training curves from what the stages logged (losses.jsonl, align-text's history)
    const report = readFileSync(join(cwd, 'runs/medgen/report.html'), 'utf8')
    for (const title of ['align-text training loss', 'classify training loss, per run'])
      expect(report, title).to.include(`<img alt="${title}" src="data:image/svg+xml;base64,`)
    // --json on run too: the run record (every stage, up to date now) and where the report is, on stdout
    const json = medgen(['run', 'walk.yaml', '--json', ...tinySets], {cwd, env: {MEDGEN_QUIET: '1'}})
    expect(json.status, json.stderr).to.equal(0)
    const record = JSON.parse(json.stdout)
    expect(record.stages.map((s: {stage: string}) => s.stage)).to.include.members(['caption', 'eval'])
    expect(record.report).to.equal(join('runs/medgen', 'report.html'))
    for (const file of [
      'captions/captions.jsonl',
      'visual/features.safetensors',
      'text/model.safetensors',
      'dit/metrics.json',
      'samples/manifest.jsonl',
      'classify/metrics.json',
      'eval/metrics.json',
      'report.html'
    ]) {
      expect(existsSync(join(cwd, 'runs/medgen', file)), file).to.equal(true)
    }
  })

  it('caption ./flat-folder (images, no class folders) captions them as one class, and train-visual finds them', async () => {
    const cwd = tmpDir()
    const flat = join(cwd, 'flat-folder')
    mkdirSync(flat)
    for (let i = 0; i < 6; i++) {
      const rgb = Buffer.alloc(16 * 16 * 3, 40 * i)
      await sharp(rgb, {raw: {width: 16, height: 16, channels: 3}})
        .png()
        .toFile(join(flat, `img${i}.png`))
    }
    const r = medgen(['caption', './flat-folder'], {cwd, env: {MEDGEN_QUIET: '1'}})
    expect(r.status, r.stderr).to.equal(0)
    const rows = readFileSync(join(cwd, 'runs/medgen/captions/captions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(rows).to.have.length(6)
    expect(new Set(rows.map(row => row.class))).to.deep.equal(new Set(['flat-folder']))
    // without the memory this said "runs/medgen/data: missing"
    const later = medgen(
      ['train-visual', '--set', 'visual.epochs=1', '--set', 'data.imageSize=16', '--set', 'visual.imageSize=16'],
      {cwd, env: {MEDGEN_QUIET: '1'}}
    )
    expect(later.status, later.stderr).to.equal(0)
    // a data-reading command also takes the folder as its argument, and that run dir remembers it
    const given = medgen(
      [
        'train-visual',
        './flat-folder',
        '--run-dir',
        'runs/other',
        '--set',
        'visual.epochs=1',
        '--set',
        'data.imageSize=16',
        '--set',
        'visual.imageSize=16'
      ],
      {cwd, env: {MEDGEN_QUIET: '1'}}
    )
    expect(given.status, given.stderr).to.equal(0)
    expect(JSON.parse(readFileSync(join(cwd, 'runs/other/dataset.json'), 'utf8')).path).to.equal(flat)
    expect(existsSync(join(cwd, 'runs/other/visual/model.safetensors'))).to.equal(true)
  })
})

/** `a.b: 1` lines -> nested YAML. */
function nest(flat: string): string {
  const tree: Record<string, Record<string, string>> = {}
  for (const line of flat.trim().split('\n')) {
    const [key, value] = line.split(': ')
    const [section, name] = key.split('.')
    ;(tree[section] ??= {})[name] = value
  }
  return (
    Object.entries(tree)
      .map(
        ([s, kv]) =>
          `${s}:\n` +
          Object.entries(kv)
            .map(([k, v]) => `  ${k}: ${v}`)
            .join('\n')
      )
      .join('\n') + '\n'
  )
}
