// align-text on the real pipeline's artifacts: synth -> caption (measured) -> train-visual ->
// align-text, with configs/demo.yaml and any `key=value` overrides given as arguments
// (e.g. synth.n=600 run.dir=/tmp/x). Prints align-text's held-out cosines and probes.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {initBackend} from '../src/backend/index.js'
import {loadConfig} from '../src/config/load.js'
import {runStage} from '../src/stages/stage.js'
import {loadStage} from '../src/stages/pipeline.js'

const config = loadConfig({file: 'configs/demo.yaml', sets: process.argv.slice(2)})
await initBackend(config.run.backend, config.run.threads)
for (const name of ['synth', 'caption', 'train-visual', 'align-text'] as const) {
  const t0 = Date.now()
  const r = await runStage(await loadStage(name), config)
  console.log(`${name}: ${r.skipped ? 'up to date' : 'done'} in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
}
const m = JSON.parse(readFileSync(join(config.run.dir, 'text', 'metrics.json'), 'utf8'))
console.log(JSON.stringify({captions: m.captions, cosine: m.cosine, tsne: m.tsne, finalEpoch: m.training.finalEpoch}, null, 1))
for (const [name, p] of Object.entries<any>(m.probes)) {
  console.log(`probe ${name} [${p.group}]: anatomy head ${p.fromAnatomyHead.accuracy.toFixed(3)}  style head ${p.fromStyleHead.accuracy.toFixed(3)}  chance ${p.fromAnatomyHead.chance.toFixed(3)}  (n test ${p.fromAnatomyHead.nTest})`)
}
