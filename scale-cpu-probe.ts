import {writeFileSync, mkdtempSync} from 'node:fs'
import {join} from 'node:path'
import {tmpdir} from 'node:os'
import {tinyConfigYaml} from './test/reliability/fixtures.js'
import {loadConfig} from './src/config/load.js'
import {runPipeline} from './src/stages/run-pipeline.js'
import {initBackend} from './src/backend/index.js'
const root = mkdtempSync(join(tmpdir(), 'scale-probe-'))
await initBackend('cpu')
const cfg = join(root, 't.yaml')
writeFileSync(cfg, tinyConfigYaml(join(root, 'data'), {'synth.n': 12, 'synth.size': 32, 'visual.epochs': 1, 'text.epochs': 1, 'dit.steps': 1, 'dit.warmupSteps': 0, 'dit.checkpointingSteps': 1, 'generate.steps': 1, 'generate.perClass': 1, 'classify.epochs': 1}))
const config = loadConfig({file: cfg, overrides: {'run.dir': join(root, 'run'), 'run.backend': 'cpu'}})
const t = await runPipeline(config, {report: false})
console.log(JSON.stringify(t))
