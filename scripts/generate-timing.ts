// Mean seconds per generated image (issue 8; the paper's "1.457 s per image" has no timing code
// behind it, docs/REFERENCE.md §6). Two modes:
//   node --import tsx scripts/generate-timing.ts --run-dir runs/demo [--per-class 8]
//       times `generate` on a copy of a run that finetune-dit has trained (e.g. after `npm run demo`;
//       captions/, text/ and dit/ are copied, the run's own samples/ is left alone);
//   node --import tsx scripts/generate-timing.ts
//       builds a tiny run first (synthetic captions + features, align-text 2 epochs, pixart-demo
//       trained 2 steps: the timing does not depend on how well it is trained).
// Prints one line per sampler/guidance setting; the backend is MEDGEN_BACKEND or auto.
import {cpSync, mkdirSync, mkdtempSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {tmpdir} from 'node:os'
import {parseArgs} from 'node:util'
import sharp from 'sharp'
import {initBackend} from '../src/backend/index.js'
import {loadConfig} from '../src/config/load.js'
import {runStage} from '../src/stages/stage.js'
import {generateStageFor} from '../src/stages/generate.js'
import {resolveRequest} from '../src/stages/generate/items.js'

const {values} = parseArgs({
  options: {'run-dir': {type: 'string'}, 'per-class': {type: 'string', default: '8'}, config: {type: 'string'}}
})
process.env.MEDGEN_QUIET = '1'
let sets: string[]
const backend = await initBackend('auto')
if (values['run-dir']) {
  const copy = mkdtempSync(join(tmpdir(), 'medgen-timing-'))
  for (const part of ['captions', 'text', 'dit']) {
    cpSync(join(values['run-dir'], part), join(copy, part), {
      recursive: true,
      filter: src => !src.includes('checkpoints')
    })
  }
  sets = [`run.dir=${copy}`]
} else {
  const {writeSyntheticAlignmentRun} = await import('../test/text/synthetic-captions.js')
  const {alignTextStage} = await import('../src/stages/align-text.js')
  const {finetuneDitStageFor} = await import('../src/stages/finetune-dit.js')
  const runDir = mkdtempSync(join(tmpdir(), 'medgen-timing-'))
  const dataDir = mkdtempSync(join(tmpdir(), 'medgen-timing-data-'))
  await writeSyntheticAlignmentRun(runDir, 30, 4)
  for (const line of readFileSync(join(runDir, 'captions', 'captions.jsonl'), 'utf8')
    .trim()
    .split('\n')) {
    const r = JSON.parse(line)
    mkdirSync(join(dataDir, r.class), {recursive: true})
    await sharp({create: {width: 36, height: 36, channels: 3, background: r.class === 'mel' ? '#503020' : '#c0a080'}})
      .png()
      .toFile(join(dataDir, r.file))
  }
  sets = [
    `run.dir=${runDir}`,
    `data.path=${dataDir}`,
    'text.encoder=hashed',
    'text.hashedDim=64',
    'text.epochs=2',
    'text.tsnePoints=0',
    'dit.steps=2',
    'dit.batchSize=4',
    'dit.warmupSteps=1',
    'dit.checkpointingSteps=2'
  ]
  await runStage(alignTextStage, loadConfig({sets}))
  await runStage(finetuneDitStageFor(), loadConfig({sets}))
}
for (const [sampler, guidance] of [
  ['dpm-solver++', 4.5],
  ['dpm-solver++', 1],
  ['ddim', 4.5]
] as const) {
  const config = loadConfig({
    file: values.config,
    sets: [...sets, `generate.sampler=${sampler}`, `generate.guidance=${guidance}`]
  })
  const request = await resolveRequest({perClass: Number(values['per-class'])}, {perClass: 8})
  await runStage(generateStageFor(request), config, {force: true})
  const m = JSON.parse(readFileSync(join(config.run.dir, 'samples', 'manifest.json'), 'utf8'))
  console.log(
    `${sampler}, guidance ${guidance}, ${config.generate.steps} steps, batch ${config.generate.batchSize}, ${m.notes.generated} images: ` +
      `mean ${m.notes.meanSecondsPerImage.toFixed(3)} s per image (${backend}; model load ${m.notes.loadSeconds.toFixed(2)} s)`
  )
}
