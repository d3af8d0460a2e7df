// align-text on the real pipeline's artifacts: synth -> caption (measured) -> train-visual ->
// align-text, with configs/demo.yaml and any `key=value` overrides given as arguments
// (e.g. synth.n=600 run.dir=/tmp/x visual.anatomyVector=occupancy). Prints align-text's
// held-out cosines and probes.
//   --compare  then also rewrites visual/features.safetensors with the *other*
//              visual.anatomyVector from the same trained SDNet (same captions, same split)
//              into <run.dir>-<kind>/ and runs align-text there: a controlled comparison.
//   --report   only print the figures of run.dir (and of <run.dir>-<kind>/ with --compare).
// Both runs also print probes of the visual targets themselves (what the text heads can at best
// carry), the label balance, and a counterfactual sensitivity: each held-out caption re-rendered
// with one attribute changed (e.g. round -> oval), and how far each head's output moves, in
// units of that head's spread over the held-out captions (disentangled: the anatomy head moves
// for shape, not colour; the style head the other way round).
import {cpSync, mkdirSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {initBackend} from '../src/backend/index.js'
import {loadConfig} from '../src/config/load.js'
import type {MedgenConfig} from '../src/config/schema.js'
import {readSafetensors, readSafetensorsMetadata} from '../src/io/safetensors.js'
import {sdnetConfig} from '../src/models/sdnet/config.js'
import {SDNet} from '../src/models/sdnet/model.js'
import {alignText} from '../src/stages/align-text.js'
import {runStage} from '../src/stages/stage.js'
import {loadStage} from '../src/stages/pipeline.js'
import type {AnatomyVectorKind} from '../src/stages/visual/anatomy-descriptors.js'
import {loadVisualData} from '../src/stages/visual/load.js'
import {writeFeatures} from '../src/stages/visual/outputs.js'
import {renderCaption} from '../src/caption/vocab.js'
import {loadAlignmentInputs} from '../src/stages/align-text/data.js'
import {loadTextConditioner} from '../src/text/conditioner.js'
import {linearProbe} from '../src/stages/align-text/probe.js'

const args = process.argv.slice(2)
const compare = args.includes('--compare')
const reportOnly = args.includes('--report')
const config = loadConfig({file: 'configs/demo.yaml', sets: args.filter(a => !a.startsWith('--'))})
await initBackend(config.run.backend, config.run.threads)
for (const name of reportOnly ? [] : (['synth', 'caption', 'train-visual', 'align-text'] as const)) {
  const t0 = Date.now()
  const r = await runStage(await loadStage(name), config)
  console.log(`${name}: ${r.skipped ? 'up to date' : 'done'} in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
}
await report(config.run.dir, config.visual.anatomyVector, config)

if (compare) {
  const other: AnatomyVectorKind = config.visual.anatomyVector === 'occupancy' ? 'occupancy+shape' : 'occupancy'
  const dir = `${config.run.dir}-${other.replace('+', '-')}`
  const otherConfig: MedgenConfig = {
    ...config,
    run: {...config.run, dir},
    visual: {...config.visual, anatomyVector: other}
  }
  if (reportOnly) {
    await report(dir, other, otherConfig)
    process.exit(0)
  }
  rmSync(dir, {recursive: true, force: true})
  for (const sub of ['captions', 'cache', 'split.json'])
    cpSync(join(config.run.dir, sub), join(dir, sub), {recursive: true})
  mkdirSync(join(dir, 'visual'), {recursive: true})
  const modelPath = join(config.run.dir, 'visual', 'model.safetensors')
  const saved = JSON.parse((await readSafetensorsMetadata(modelPath)).config)
  const model = SDNet.create(sdnetConfig(saved), 0)
  model.loadStateDict(await readSafetensors(modelPath), modelPath)
  const data = await loadVisualData(config, dir, model.config.imageSize)
  await writeFeatures(join(dir, 'visual', 'features.safetensors'), model, data, config.visual.batchSize, other)
  const t0 = Date.now()
  await alignText({config: otherConfig, runDir: dir, outDir: join(dir, 'text'), force: true, resume: false})
  console.log(
    `\nalign-text on the same SDNet with visual.anatomyVector=${other}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`
  )
  await report(dir, other, otherConfig)
}

async function report(runDir: string, kind: string, cfg: MedgenConfig): Promise<void> {
  const m = JSON.parse(readFileSync(join(runDir, 'text', 'metrics.json'), 'utf8'))
  console.log(`\n== ${runDir} (visual.anatomyVector=${kind}, anatomy ${m.anatomyDim}-d, style ${m.styleDim}-d)`)
  console.log(
    JSON.stringify({captions: m.captions, cosine: m.cosine, tsne: m.tsne, finalEpoch: m.training.finalEpoch}, null, 1)
  )
  for (const [name, p] of Object.entries<any>(m.probes)) {
    console.log(
      `probe ${name} [${p.group}]: anatomy head ${p.fromAnatomyHead.accuracy.toFixed(3)}  style head ${p.fromStyleHead.accuracy.toFixed(3)}  chance ${p.fromAnatomyHead.chance.toFixed(3)}  (n test ${p.fromAnatomyHead.nTest})`
    )
  }
  // the visual targets themselves: the ceiling of what each text head can learn to carry
  const data = await loadAlignmentInputs(runDir)
  const train = data.rows.flatMap((r, i) => (r.split === 'train' ? [i] : []))
  const held = data.rows.flatMap((r, i) => (r.split !== 'train' ? [i] : []))
  for (const attr of ['shape', 'size', 'colour']) {
    const labels = data.rows.map(r => r.attributes?.[attr] ?? '')
    const counts: Record<string, number> = {}
    for (const l of labels) counts[l] = (counts[l] ?? 0) + 1
    const tr = train.filter(r => labels[r] && labels[r] !== 'unknown'),
      te = held.filter(r => labels[r] && labels[r] !== 'unknown')
    const a = linearProbe(data.anatomy, data.anatomyDim, labels, tr, te)
    const s = linearProbe(data.style, data.styleDim, labels, tr, te)
    console.log(
      `visual-target probe ${attr}: anatomy vector ${a.accuracy.toFixed(3)}  style mu ${s.accuracy.toFixed(3)}  chance ${a.chance.toFixed(3)}  labels ${JSON.stringify(counts)}`
    )
  }
  await sensitivity(
    runDir,
    cfg,
    data.rows.filter(r => r.split !== 'train' && r.attributes)
  )
}

/** Mean |head(caption with attr changed) - head(caption)| / head spread, per head and attribute. */
async function sensitivity(
  runDir: string,
  cfg: MedgenConfig,
  rows: Awaited<ReturnType<typeof loadAlignmentInputs>>['rows']
): Promise<void> {
  const cond = await loadTextConditioner(runDir, cfg)
  const encode = async (texts: string[]) => {
    const o = await cond.encodeTexts(texts)
    o.embedding.dispose()
    return o
  }
  const base = await encode(rows.map(r => renderCaption('dermoscopy', r.class, r.attributes as any).caption))
  const spread = (x: Float32Array, d: number) => {
    const n = x.length / d
    let v = 0
    for (let k = 0; k < d; k++) {
      let m = 0
      for (let i = 0; i < n; i++) m += x[i * d + k] / n
      for (let i = 0; i < n; i++) v += (x[i * d + k] - m) ** 2 / n
    }
    return Math.sqrt(v)
  }
  const dist = (a: Float32Array, b: Float32Array, d: number) => {
    let t = 0
    for (let i = 0; i < a.length / d; i++) {
      let s = 0
      for (let k = 0; k < d; k++) s += (a[i * d + k] - b[i * d + k]) ** 2
      t += Math.sqrt(s)
    }
    return t / (a.length / d)
  }
  const sa = spread(base.anatomy, base.anatomyDim),
    ss = spread(base.style, base.styleDim)
  for (const attr of ['shape', 'size', 'colour', 'texture']) {
    const values = [...new Set(rows.map(r => r.attributes![attr]))].filter(v => v && v !== 'unknown').sort()
    const changed = rows.map(r => {
      const v = r.attributes![attr]
      const next = values[(values.indexOf(v) + 1) % values.length]
      return renderCaption('dermoscopy', r.class, {...r.attributes, [attr]: next} as any).caption
    })
    const out = await encode(changed)
    console.log(
      `sensitivity to ${attr}: anatomy head ${(dist(out.anatomy, base.anatomy, base.anatomyDim) / sa).toFixed(3)}  style head ${(dist(out.style, base.style, base.styleDim) / ss).toFixed(3)}  (${rows.length} held-out captions)`
    )
  }
  cond.dispose()
}
