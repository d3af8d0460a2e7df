// `medgen classify` (issue 10, paper §3.2): trains a classifier under each protocol —
// real (real train split), real+synthetic (plus generated images, ratio configurable, per-class
// counts recorded), synthetic (generated only; docs/REFERENCE.md §7 suspects the paper's rows are
// this) — for several seeds, always tests on the real test split, and writes
// classify/metrics.json (every value with its definition, per seed and mean ± std),
// classify/table.md, confusion-<protocol>.png and model.safetensors (for eval's dfd).
import {promises as fs} from 'node:fs'
import {createHash} from 'node:crypto'
import type {MedgenConfig} from '../config/schema.js'
import {UserError} from '../errors.js'
import {pathExists, writeFileAtomic, writeJsonAtomic} from '../io/atomic.js'
import {classificationDefinitions, classificationReport} from '../metrics/classification.js'
import {disposeClassifier} from '../models/classifier/index.js'
import {deriveSeed} from '../util/rng.js'
import {log} from '../util/log.js'
import type {StageContext, StageResult, StageSpec} from './stage.js'
import {concatSets, setLength, subset, type LabeledSet} from './classify/batches.js'
import {chooseSynthetic, decodeSet, realSplits, syntheticFiles} from './classify/data.js'
import {predictSet, trainClassifier} from './classify/train.js'
import {baccBootstrap, type BaccBootstrap} from '../metrics/bacc-bootstrap.js'
import {
  bootstrapTable,
  chanceBacc,
  comparisonTable,
  headline,
  nearChance,
  summarise,
  writeConfusionPng,
  type SeedResult
} from './classify/report.js'
import {saveClassifyModel} from './classify/model-file.js'
import {datasetPathOf, runLayout} from '../run/layout.js'

type Protocol = MedgenConfig['classify']['protocols'][number]
const slug = (p: Protocol) => p.replace('+', '-plus-')

interface Sets {
  classes: string[]
  train: LabeledSet
  val: LabeledSet
  test: LabeledSet
  synthetic: LabeledSet | null
}

async function loadSets(config: MedgenConfig, runDir: string): Promise<Sets> {
  const splits = await realSplits(config, runDir)
  const {classes, files} = splits
  if (files.test.length === 0)
    throw new UserError(`${datasetPathOf(config)}: the test split is empty; raise data.testFraction`)
  if (files.train.length === 0) throw new UserError(`${datasetPathOf(config)}: the train split is empty`)
  const size = config.classify.imageSize || config.data.imageSize
  const needSynthetic = config.classify.protocols.some(p => p !== 'real')
  let synthetic: LabeledSet | null = null
  if (needSynthetic) {
    const pool = await syntheticFiles(runDir, classes)
    if (pool.length === 0)
      throw new UserError(
        `${runLayout(runDir).samples.manifest}: no generated images of classes ${classes.join(', ')}; run \`medgen generate\` first or use --protocol real`
      )
    synthetic = await decodeSet(pool, classes, size, 'generated')
  }
  return {
    classes,
    synthetic,
    train: await decodeSet(files.train, classes, size, 'train'),
    val: await decodeSet(files.val, classes, size, 'val'),
    test: await decodeSet(files.test, classes, size, 'test')
  }
}

/** Training and validation sets of a protocol, with what was mixed in. */
function protocolSets(
  p: Protocol,
  s: Sets,
  config: MedgenConfig
): {train: LabeledSet; val: LabeledSet; syntheticPerClass?: Record<string, number>} {
  if (p === 'real') return {train: s.train, val: s.val}
  const syn = s.synthetic!
  const files = syn.ids.map((id, i) => ({id, path: '', className: s.classes[syn.labels[i]]}))
  if (p === 'real+synthetic') {
    const want = Math.round(config.classify.syntheticRatio * setLength(s.train))
    const {chosen, perClass} = chooseSynthetic(files, want, config.run.seed)
    const index = new Map(syn.ids.map((id, i) => [id, i]))
    return {
      train: concatSets(
        s.train,
        subset(
          syn,
          chosen.map(f => index.get(f.id)!)
        )
      ),
      val: s.val,
      syntheticPerClass: perClass
    }
  }
  // synthetic only: validate on a seeded 10% of the generated images, so no real image guides training.
  const order = chooseSynthetic(files, files.length, deriveSeed(config.run.seed, 'synthetic-val')).chosen
  const nVal = Math.max(1, Math.round(0.1 * order.length))
  const index = new Map(syn.ids.map((id, i) => [id, i]))
  const perClass: Record<string, number> = {}
  for (const f of order.slice(nVal)) perClass[f.className] = (perClass[f.className] ?? 0) + 1
  return {
    train: subset(
      syn,
      order.slice(nVal).map(f => index.get(f.id)!)
    ),
    val: subset(
      syn,
      order.slice(0, nVal).map(f => index.get(f.id)!)
    ),
    syntheticPerClass: perClass
  }
}

/**
 * What one seed's result depends on: classify's config slice, the run seed and, for protocols that
 * train on generated images, the samples manifest. A result.json with another fingerprint is retrained
 * (a changed classify.imageSize used to return the old result), one with the same is reused (so the
 * synthetic benchmark shares the `real` protocol across conditioning modes).
 */
async function seedFingerprint(ctx: StageContext, p: Protocol): Promise<string> {
  const hash = createHash('sha256')
    .update(JSON.stringify(classifyStage.configSlice(ctx.config)))
    .update(`seed ${ctx.config.run.seed}`)
  if (p !== 'real') hash.update(await fs.readFile(runLayout(ctx.runDir).samples.manifest))
  return hash.digest('hex').slice(0, 16)
}

async function runSeed(
  ctx: StageContext,
  sets: Sets,
  p: Protocol,
  seedIndex: number,
  fingerprint: string
): Promise<SeedResult> {
  const c = ctx.config.classify
  const {dir, result: resultPath, checkpoints} = runLayout(ctx.runDir).classify.seedRun(slug(p), seedIndex)
  if (await pathExists(resultPath)) {
    const cached = JSON.parse(await fs.readFile(resultPath, 'utf8')) as SeedResult
    if (cached.fingerprint === fingerprint) return cached
    // trained under another classify config, seed or set of generated images: not this run's result
    await fs.rm(dir, {recursive: true, force: true})
  }
  const seed = ctx.config.run.seed + seedIndex
  const {train, val, syntheticPerClass} = protocolSets(p, sets, ctx.config)
  const outcome = await trainClassifier(train, val, {
    preset: c.preset,
    numClasses: sets.classes.length,
    epochs: c.epochs,
    batchSize: c.batchSize,
    lr: c.lr,
    weightDecay: c.weightDecay,
    balanced: c.balanced,
    standardize: c.standardize,
    augment: c.augment,
    patience: c.patience,
    seed,
    dir,
    resume: ctx.resume,
    checkpointEvery: c.checkpointEvery,
    label: `classify ${p} seed ${seed}`
  })
  const {prob} = await predictSet(outcome.model, sets.test, c.batchSize * 2)
  const k = sets.classes.length
  const yPred = Int32Array.from({length: setLength(sets.test)}, (_, i) => {
    let best = 0
    for (let j = 1; j < k; j++) if (prob[i * k + j] > prob[i * k + best]) best = j
    return best
  })
  // sklearn requires rows summing to 1 within 1e-5; renormalise float32 softmax in float64.
  const yProb = new Float64Array(prob.length)
  for (let i = 0; i < yPred.length; i++) {
    let s = 0
    for (let j = 0; j < k; j++) s += prob[i * k + j]
    for (let j = 0; j < k; j++) yProb[i * k + j] = prob[i * k + j] / s
  }
  const report = classificationReport({yTrue: sets.test.labels, yPred, yProb, numClasses: k})
  const result: SeedResult = {
    seed,
    report,
    epochsRun: outcome.epochsRun,
    bestEpoch: outcome.bestEpoch,
    stoppedEarly: outcome.stoppedEarly,
    trainImages: setLength(train),
    ...(syntheticPerClass ? {syntheticPerClass} : {}),
    testPredictions: Array.from(yPred),
    fingerprint
  }
  if ((p === 'real' && seedIndex === 0) || (!c.protocols.includes('real') && seedIndex === 0 && p === c.protocols[0])) {
    await saveClassifyModel(runLayout(ctx.runDir).classify.model, outcome.model, {
      preset: c.preset,
      classes: sets.classes,
      imageSize: sets.test.size,
      protocol: p,
      seed
    })
  }
  disposeClassifier(outcome.model)
  await writeJsonAtomic(resultPath, result)
  // The checkpoints are only needed to resume this seed.
  await fs.rm(checkpoints, {recursive: true, force: true})
  log.info(
    `classify ${p} seed ${seed}: weighted F1 ${report.f1Weighted.toFixed(3)}, BACC ${report.balancedAccuracy.toFixed(3)}, AUC ${report.aucOvrMacro?.toFixed(3) ?? 'n/a'}`
  )
  return result
}

async function work(ctx: StageContext): Promise<StageResult> {
  const c = ctx.config.classify
  if (ctx.force) await fs.rm(runLayout(ctx.runDir).classify.runs, {recursive: true, force: true})
  const sets = await loadSets(ctx.config, ctx.runDir)
  const byProtocol: Record<string, SeedResult[]> = {}
  for (const p of c.protocols) {
    byProtocol[p] = []
    const fingerprint = await seedFingerprint(ctx, p) // the same for every seed of a protocol
    for (let s = 0; s < c.seeds; s++) byProtocol[p].push(await runSeed(ctx, sets, p, s, fingerprint))
  }
  const outputs: string[] = []
  const protocols: Record<string, unknown> = {}
  for (const [p, results] of Object.entries(byProtocol)) {
    const summary = Object.fromEntries(headline.map(k => [k, summarise(results, k)]))
    const k = sets.classes.length
    const cmSum = Array.from({length: k}, (_, i) =>
      Array.from({length: k}, (_, j) => results.reduce((a, r) => a + r.report.confusionMatrix[i][j], 0))
    )
    const png = runLayout(ctx.runDir).classify.confusion(slug(p as Protocol))
    await writeConfusionPng(png, cmSum, sets.classes, `${p}: confusion matrix, summed over ${results.length} seed(s)`)
    outputs.push(png)
    protocols[p] = {
      summary,
      nearChance: nearChance(summary.balancedAccuracy.mean, k),
      confusionMatrixSummed: cmSum,
      seeds: results
    }
  }
  const k = sets.classes.length
  const flagged = Object.keys(byProtocol).filter(p => (protocols[p] as {nearChance: boolean}).nearChance)
  const chanceLine =
    `Chance BACC (a predictor that ignores the image): 1/${k} = ${chanceBacc(k).toFixed(3)}.` +
    (flagged.length ? ` **Within 1.5x of chance (has not learned): ${flagged.join(', ')}.**` : '') +
    '\n\n'
  const bootstrap = testSetInterval(byProtocol, sets.test.labels, k, ctx.config.run.seed)
  const table = chanceLine + comparisonTable(byProtocol) + (bootstrap ? '\n' + bootstrapTable(bootstrap) : '')
  const tablePath = runLayout(ctx.runDir).classify.table
  await writeFileAtomic(
    tablePath,
    `# classify: ${c.preset}, ${c.seeds} seed(s), tested on the real test split (${setLength(sets.test)} images)\n\n` +
      table
  )
  const metricsPath = runLayout(ctx.runDir).classify.metrics
  await writeJsonAtomic(metricsPath, {
    definitions: {
      ...classificationDefinitions,
      mean: 'mean over seeds',
      std: 'sample standard deviation over seeds (ddof 1)',
      chance: 'balancedAccuracy of a predictor that ignores the image (all one class, or random): 1/k',
      testSetBootstrap:
        'BACC and BACC(protocol) - BACC(reference) with 95% percentile intervals from a stratified bootstrap over the real test images (each class resampled within itself), paired across protocols; seeds pooled (predictions of every seed scored together)',
      nearChance: 'true when the mean balancedAccuracy is below 1.5 x chance: the classifier has not learned',
      protocols:
        'real: real train split; real+synthetic: real train + round(syntheticRatio x n_train) generated images (seeded draw, per-class counts in syntheticPerClass); synthetic: generated images only, validated on a 10% generated hold-out. All tested on the real test split.'
    },
    classes: sets.classes,
    preset: c.preset,
    imageSize: sets.test.size,
    chance: {balancedAccuracy: chanceBacc(sets.classes.length)},
    nTrain: setLength(sets.train),
    nVal: setLength(sets.val),
    nTest: setLength(sets.test),
    nSyntheticPool: sets.synthetic ? setLength(sets.synthetic) : 0,
    testClassCounts: sets.classes.map((_, i) => sets.test.labels.filter(y => y === i).length),
    protocols,
    ...(bootstrap ? {testSetBootstrap: bootstrap} : {})
  })
  outputs.push(metricsPath, tablePath)
  if (await pathExists(runLayout(ctx.runDir).classify.model)) outputs.push(runLayout(ctx.runDir).classify.model)
  return {outputs, notes: {protocols: c.protocols, seeds: c.seeds}}
}

/** The test-set bootstrap of BACC over the seeds' pooled predictions (null when a seed has none, e.g. an older run). */
function testSetInterval(
  byProtocol: Record<string, SeedResult[]>,
  testLabels: Int32Array,
  k: number,
  seed: number
): BaccBootstrap | null {
  const names = Object.keys(byProtocol)
  if (names.some(p => byProtocol[p].some(r => r.testPredictions?.length !== testLabels.length))) return null
  const seeds = byProtocol[names[0]].length
  const yTrue = Int32Array.from({length: seeds * testLabels.length}, (_, i) => testLabels[i % testLabels.length])
  const predictions = Object.fromEntries(
    names.map(p => [p, Int32Array.from(byProtocol[p].flatMap(r => r.testPredictions!))])
  )
  return baccBootstrap(yTrue, predictions, k, names.includes('real') ? 'real' : names[0], seed)
}

export const classifyStage: StageSpec = {
  name: 'classify',
  configSlice: config => ({classify: config.classify, data: config.data, dataset: datasetPathOf(config)}),
  inputs: (config, runDir) => {
    const inputs = [{path: datasetPathOf(config), madeBy: 'medgen synth (or set data.path to a dataset)'}]
    if (config.classify.protocols.some(p => p !== 'real'))
      inputs.push({path: runLayout(runDir).samples.manifest, madeBy: 'medgen generate'})
    return inputs
  },
  work
}
