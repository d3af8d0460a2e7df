// Measures align-text on synthetic measured captions (attributes known, anatomy and style words
// drawn independently; visual targets built from those attributes, see
// test/text/synthetic-captions.ts) with the authors' hyper-parameters (60 epochs, batch 32,
// Adam 1e-4). Prints the held-out cosine per head, the linear probes and the t-SNE figures.
// Usage: node --import tsx scripts/align-text-measure.ts [n=1000] [encoder=hashed|bert-tiny] [runDir]
import {copyFileSync, mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {initBackend} from '../src/backend/index.js'
import {loadConfig} from '../src/config/load.js'
import {runStage} from '../src/stages/stage.js'
import {alignTextStage} from '../src/stages/align-text.js'
import {writeSyntheticAlignmentRun} from '../test/text/synthetic-captions.js'

const n = Number(process.argv[2] ?? 1000)
const encoder = process.argv[3] ?? 'hashed'
const runDir = process.argv[4] ?? `/tmp/medgen-align-text-${encoder}-${n}`
await initBackend((process.env.MEDGEN_BACKEND as any) ?? 'wasm')
await writeSyntheticAlignmentRun(runDir, n, 2024)
const sets = [`run.dir=${runDir}`, 'run.seed=42']
if (encoder === 'bert-tiny') {
  // the golden bert-tiny (random weights, 32-d) as a Hugging Face folder without tokenizer_config (lower-cases)
  const folder = join(runDir, 'bert-tiny')
  const golden = new URL('../test/fixtures/golden/bert-tiny/', import.meta.url).pathname
  mkdirSync(folder, {recursive: true})
  copyFileSync(join(golden, 'hf_config.json'), join(folder, 'config.json'))
  copyFileSync(join(golden, 'vocab.txt'), join(folder, 'vocab.txt'))
  copyFileSync(join(golden, 'model.safetensors'), join(folder, 'model.safetensors'))
  sets.push(`weights.text=${folder}`, 'text.encoder=bert')
} else sets.push('text.encoder=hashed')
const config = loadConfig({sets})
const started = Date.now()
await runStage(alignTextStage, config, {force: true})
const m = JSON.parse(readFileSync(join(runDir, 'text', 'metrics.json'), 'utf8'))
const f = (v: number) => v.toFixed(3)
console.log(
  `encoder ${encoder}, ${m.captions.total} captions (train ${m.captions.train}, val ${m.captions.val}, test ${m.captions.test}), ${m.training.steps} steps, ${((Date.now() - started) / 1000).toFixed(0)} s`
)
console.log(
  `final epoch loss ${f(m.training.finalEpoch.loss)} (align ${f(m.training.finalEpoch.align)}, recon ${m.training.finalEpoch.reconstruction.toExponential(2)}); first epoch ${f(m.training.history[0].loss)}`
)
for (const k of ['heldOut', 'val', 'test', 'train', 'beforeHeldOut'])
  console.log(`cosine ${k}: anatomy ${f(m.cosine[k].anatomy)} style ${f(m.cosine[k].style)} (n=${m.cosine[k].n})`)
for (const [name, p] of Object.entries<any>(m.probes)) {
  console.log(
    `probe ${name} [${p.group}]: anatomy head ${f(p.fromAnatomyHead.accuracy)}  style head ${f(p.fromStyleHead.accuracy)}  chance ${f(p.fromAnatomyHead.chance)}  (n test ${p.fromAnatomyHead.nTest})`
  )
}
if (m.tsne)
  console.log(
    `t-SNE modality neighbour agreement: before ${f(m.tsne.before.modalityNeighbourAgreement)} after ${f(m.tsne.after.modalityNeighbourAgreement)}; class: before ${f(m.tsne.before.classNeighbourAgreement)} after ${f(m.tsne.after.classNeighbourAgreement)} (${m.tsne.after.points} points) -> ${join(runDir, 'text', 'tsne.png')}`
  )
