// kill -9 and resume (issue 12 item 1, docs/DESIGN.md "Reliability contract"): every training stage
// is SIGKILLed right after a seeded random step (before that step's checkpoint), resumed, and
// must end with the weights and losses.jsonl of an uninterrupted run; caption and generate are SIGKILLed after a
// seeded random number of items and must end with the same items, none duplicated. CI: one
// kill point per stage (two for finetune-dit, so a second resume is always exercised);
// MEDGEN_RELIABILITY=full: three kill points in a row per stage.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {dirname, join} from 'node:path'
import {readSafetensors} from '../../src/io/safetensors.js'
import {Rng} from '../../src/util/rng.js'
import {runLayout} from '../../src/run/layout.js'
import {expectSameLosses} from '../helpers/losses.js'
import {counters, fullSuite, runMedgen} from './harness.js'
import {
  checkpointStates,
  copyBase,
  expectCountersRight,
  expectKilled,
  expectManifestConsistent,
  expectSameWeights,
  mustRun,
  prepareBase,
  tinyConfigYaml,
  uninterruptedRun,
  type Base
} from './fixtures.js'

/** `count` distinct increasing kill points in [1, total-1], seeded per stage (same with --grep). */
function killPoints(stage: string, total: number, count: number): number[] {
  const pool = Array.from({length: total - 1}, (_, i) => i + 1)
  return new Rng(`reliability-kill-${stage}`)
    .shuffle(pool)
    .slice(0, Math.min(count, pool.length))
    .sort((a, b) => a - b)
}

function lines(path: string): string[] {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(l => l.trim())
    : []
}

/** `losses`: the stage's losses.jsonl, relative to the run directory (src/run/layout.ts) */
interface TrainingStage {
  command: string
  dir: string
  resume: string[]
  kills: number
  losses: string
}
const trainingStages: TrainingStage[] = [
  {command: 'train-visual', dir: 'visual', resume: [], kills: 1, losses: runLayout('').visual.losses},
  {command: 'align-text', dir: 'text', resume: [], kills: 1, losses: runLayout('').text.losses},
  {command: 'finetune-dit', dir: 'dit', resume: ['--resume', 'latest'], kills: 2, losses: runLayout('').dit.losses},
  {command: 'classify', dir: 'classify', resume: [], kills: 1, losses: runLayout('').classify.seedRun('real', 0).losses}
]

const classifyResult = 'classify/runs/real/seed-0/result.json'
const readJson = (dir: string, rel: string) => JSON.parse(readFileSync(join(dir, rel), 'utf8'))

/** Optimizer steps of the uninterrupted run: its newest checkpoint (classify: epochs x batches). */
function stepsOf(dir: string, stage: TrainingStage): number {
  if (stage.command === 'classify') {
    const r = readJson(dir, classifyResult)
    return r.epochsRun * Math.ceil(r.trainImages / 4) // classify.batchSize in the tiny config
  }
  return Math.max(...checkpointStates(join(dir, stage.dir)).map(s => s.state.step))
}

/** Skips (with the reason) a stage whose command is not in this build. */
async function requireCommand(ctx: Mocha.Context, command: string): Promise<void> {
  const r = await runMedgen([command, '--help'])
  if (r.code !== 0) {
    console.log(
      `      skipped: \`medgen ${command}\` is not in this build (exit ${r.code}): ${r.stderr.split('\n')[0]}`
    )
    ctx.skip()
  }
}

describe('reliability: kill -9 and resume', function () {
  this.timeout(600_000)
  let base: Base
  before(async function () {
    this.timeout(600_000)
    base = await prepareBase()
  })

  for (const stage of trainingStages) {
    it(`${stage.command}: SIGKILL at seeded steps, resume, same weights as an uninterrupted run`, async function () {
      await requireCommand(this, stage.command)
      // Run A: uninterrupted (the base already holds it for the stages it ran).
      const dirA = await uninterruptedRun(base, stage.command, stage.dir)
      const total = stepsOf(dirA, stage)
      expect(total, `${stage.command}: too few steps to kill in between`).to.be.greaterThan(2)
      // Run B: killed at each point in turn, resumed after each kill, then finished.
      const dirB = copyBase(base, `${stage.command}-B`, [stage.dir])
      const points = killPoints(stage.command, total, fullSuite ? 3 : stage.kills)
      const args = [stage.command, '-c', base.config, '--run-dir', dirB, ...stage.resume]
      for (const k of points) {
        const r = await runMedgen(args, {crashAfterStep: k})
        expectKilled(r, `${stage.command} killed after step ${k}`)
        const states = checkpointStates(join(dirB, stage.dir))
        const newest = Math.max(0, ...states.map(s => s.state.step))
        expect(newest, `${stage.command}: a checkpoint of the step it was killed after`).to.be.lessThan(k)
        // every complete checkpoint left by the kill loads (pruning never ran ahead of saving)
        for (const {path} of states) await readSafetensors(join(dirname(path), 'params.safetensors'))
      }
      const last = await runMedgen(args)
      expect(last.code, last.stderr.slice(-2000)).to.equal(0)
      const worst = await expectSameWeights(join(dirA, stage.dir), join(dirB, stage.dir))
      // losses.jsonl: the killed runs' lines past their checkpoint were dropped on resume
      expectSameLosses(join(dirB, stage.losses), join(dirA, stage.losses))
      if (stage.command === 'classify') {
        // classify deletes a seed's checkpoints once it is done; its result (epochs run, best
        // epoch, every test prediction metric) must be the uninterrupted run's.
        expect(readJson(dirB, classifyResult), 'classify result.json').to.deep.equal(readJson(dirA, classifyResult))
      } else expectCountersRight(join(dirA, stage.dir), join(dirB, stage.dir))
      await expectManifestConsistent(dirB, stage.dir)
      counters.killResumeCycles += points.length
      console.log(
        `      ${stage.command}: killed after steps ${points.join(', ')} of ${total}; max abs weight diff ${worst}`
      )
    })
  }

  it('finetune-dit with dit.vae.train: SIGKILL while the demo VAE trains, resume: same VAE, DiT and both losses.jsonl', async function () {
    await requireCommand(this, 'finetune-dit')
    const vaeSteps = 8
    const config = join(base.root, 'tiny-vae.yaml')
    writeFileSync(
      config,
      tinyConfigYaml(base.dataDir, {
        'dit.preset': 'pixart-demo-latent',
        'dit.steps': 4,
        'dit.vae': {train: true, steps: vaeSteps, batchSize: 2, channels: [8, 16], groups: 4, latentChannels: 4}
      })
    )
    const dirA = copyBase(base, 'vae-A', ['dit'])
    await mustRun(['finetune-dit', '-c', config, '--run-dir', dirA])
    const dirB = copyBase(base, 'vae-B', ['dit'])
    const args = ['finetune-dit', '-c', config, '--run-dir', dirB, '--resume', 'latest']
    const points = killPoints('finetune-dit-vae', vaeSteps, fullSuite ? 3 : 1) // MEDGEN_CRASH_AFTER_STEP hits the VAE's loop first
    for (const k of points)
      expectKilled(await runMedgen(args, {crashAfterStep: k}), `finetune-dit killed after VAE step ${k}`)
    await mustRun(args)
    const at = runLayout('')
    const worst = await expectSameWeights(join(dirA, 'dit'), join(dirB, 'dit'))
    expect(existsSync(join(dirB, at.dit.vaeCheckpoints)), 'VAE checkpoints removed once it is trained').to.equal(false)
    expectSameLosses(join(dirB, at.dit.vaeLosses), join(dirA, at.dit.vaeLosses))
    expectSameLosses(join(dirB, at.dit.losses), join(dirA, at.dit.losses))
    counters.killResumeCycles += points.length
    console.log(
      `      finetune-dit VAE: killed after VAE steps ${points.join(', ')} of ${vaeSteps}; max abs weight diff ${worst}`
    )
  })

  it('caption: SIGKILL after a seeded number of captions, rerun keeps them and adds the rest once', async function () {
    await requireCommand(this, 'caption')
    const want = lines(join(base.runDir, 'captions', 'captions.jsonl')).map(l => JSON.parse(l))
    const dirB = copyBase(base, 'caption-B', ['captions'])
    const file = join(dirB, 'captions', 'captions.jsonl')
    const points = killPoints('caption', want.length, fullSuite ? 3 : 1)
    for (const n of points) {
      const r = await runMedgen(['caption', '-c', base.config, '--run-dir', dirB], {
        when: () => lines(file).length >= n
      })
      expectKilled(r, `caption killed after ${n} captions`)
    }
    await mustRun(['caption', '-c', base.config, '--run-dir', dirB])
    const got = lines(file).map(l => JSON.parse(l))
    const ids = got.map(c => c.id)
    expect(new Set(ids).size, 'duplicated captions').to.equal(ids.length)
    expect(got.length).to.equal(want.length)
    const byId = new Map(got.map(c => [c.id, c]))
    for (const c of want) expect(byId.get(c.id), c.id).to.deep.equal(c)
    expect(lines(join(dirB, 'captions', 'metadata.csv')).sort()).to.deep.equal(
      lines(join(base.runDir, 'captions', 'metadata.csv')).sort()
    )
    await expectManifestConsistent(dirB, 'captions')
    counters.killResumeCycles += points.length
    console.log(`      caption: killed after ${points.join(', ')} of ${want.length} captions`)
  })

  it('generate: SIGKILL after a seeded number of samples, rerun keeps them and adds the rest once', async function () {
    await requireCommand(this, 'generate')
    const dirA = await uninterruptedRun(base, 'generate', 'samples')
    const want = lines(join(dirA, 'samples', 'manifest.jsonl')).map(l => JSON.parse(l))
    const dirB = copyBase(base, 'generate-B', [])
    const file = join(dirB, 'samples', 'manifest.jsonl')
    const points = killPoints('generate', want.length, fullSuite ? 3 : 1)
    for (const n of points) {
      const r = await runMedgen(['generate', '-c', base.config, '--run-dir', dirB], {
        when: () => lines(file).length >= n
      })
      expectKilled(r, `generate killed after ${n} samples`)
    }
    await mustRun(['generate', '-c', base.config, '--run-dir', dirB])
    const got = lines(file).map(l => JSON.parse(l))
    const ids = got.map(s => s.id)
    expect(new Set(ids).size, 'duplicated samples').to.equal(ids.length)
    expect(got.length).to.equal(want.length)
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')
    const byId = new Map(got.map(s => [s.id, s]))
    for (const s of want) {
      const g = byId.get(s.id)
      expect(g, `sample ${s.id} missing`).to.not.equal(undefined)
      expect({...g, seconds: 0}, s.id).to.deep.equal({...s, seconds: 0})
      expect(sha(join(dirB, g.file)), `${g.file} pixels`).to.equal(sha(join(dirA, s.file)))
    }
    await expectManifestConsistent(dirB, 'samples')
    counters.killResumeCycles += points.length
    console.log(`      generate: killed after ${points.join(', ')} of ${want.length} samples`)
  })
})
