// Measures `medgen train-visual` on `medgen synth` dermoscopy look-alikes (issue 5 "Must show"):
// validation Dice reached, wall and CPU time, reconstruction L1 and the style-swap figures.
// Runs the real stages in-process: synth (once, shared) then train-visual in its own run dir.
// Run: node --import tsx scripts/visual-dice.ts [--adain learned|scalar] [--n 1000] [--size 64]
//      [--epochs E] [--batch B] [--lr LR] [--backend wasm] [--dir /tmp/medgen-visual-dice] [--out file.json]
import {parseArgs} from 'node:util'
import {readFileSync, writeFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {join} from 'node:path'
import {loadConfig} from '../src/config/load.js'
import {initBackend} from '../src/backend/index.js'
import {runSynth} from '../src/stages/synth.js'
import {runTrainVisual} from '../src/stages/train-visual.js'

const {values: a} = parseArgs({
  options: {
    adain: {type: 'string', default: 'scalar'},
    n: {type: 'string', default: '1000'},
    size: {type: 'string', default: '64'},
    epochs: {type: 'string'},
    batch: {type: 'string'},
    lr: {type: 'string'},
    backend: {type: 'string', default: 'wasm'},
    dir: {type: 'string', default: '/tmp/medgen-visual-dice'},
    out: {type: 'string'},
    seed: {type: 'string', default: '42'}
  }
})
const dataDir = join(a.dir!, `data-${a.n}-${a.size}`)
const runDir = join(a.dir!, `run-${a.adain}`)
const config = loadConfig({
  overrides: {
    'run.dir': runDir,
    'run.seed': Number(a.seed),
    'run.backend': a.backend,
    'synth.kind': 'dermoscopy',
    'synth.n': Number(a.n),
    'synth.size': Number(a.size),
    'synth.out': dataDir,
    'visual.adain': a.adain,
    'visual.imageSize': Number(a.size),
    'visual.epochs': a.epochs ? Number(a.epochs) : undefined,
    'visual.batchSize': a.batch ? Number(a.batch) : undefined,
    'visual.lr': a.lr ? Number(a.lr) : undefined
  }
})
const backend = await initBackend(config.run.backend, config.run.threads)
await runSynth(config)
const load0 = loadavg()[0]
const wall0 = performance.now()
const cpu0 = process.cpuUsage()
await runTrainVisual(config, {force: true, resume: false})
const cpu = process.cpuUsage(cpu0)
const metrics = JSON.parse(readFileSync(join(runDir, 'visual', 'metrics.json'), 'utf8'))
delete metrics.definitions
const figures = {
  backend,
  adain: a.adain,
  n: Number(a.n),
  size: Number(a.size),
  epochs: config.visual.epochs,
  batch: config.visual.batchSize,
  lr: config.visual.lr,
  stageWallSeconds: (performance.now() - wall0) / 1000,
  stageCpuSeconds: (cpu.user + cpu.system) / 1e6,
  cores: cpus().length,
  loadAverageAtStart: load0,
  loadAverageAtEnd: loadavg()[0],
  metrics
}
console.log(JSON.stringify(figures, null, 2))
if (a.out) writeFileSync(a.out, JSON.stringify(figures, null, 2) + '\n')
