// `medgen eval` (issue 9, paper Table 1): FID and KID (pytorch-fid Inception, needs
// weights.inception or feature files), hfd (spectral, no weights), dfd (classify model
// features) and controllability (synth data: segment + measure generated images). Every result
// in eval/metrics.json carries its definition, N_real, N_gen, resize mode, weights sha256 and
// the seed; a metric that cannot run says why and the others still run.
import {existsSync} from 'node:fs'
import type {MedgenConfig} from '../config/schema.js'
import {writeJsonAtomic} from '../io/atomic.js'
import {log} from '../util/log.js'
import type {StageContext, StageResult, StageSpec} from './stage.js'
import {computeHfd, computeInceptionMetrics, type MetricResult} from './eval/image-metrics.js'
import {computeDfd} from './eval/dfd.js'
import {computeControl} from './eval/control.js'
import {resolveSets} from './eval/sets.js'
import {datasetPathOf, runLayout} from '../run/layout.js'

export async function evaluate(
  config: MedgenConfig,
  runDir: string
): Promise<{
  metrics: Record<string, MetricResult>
  sets: {nReal: number; nGen: number; real: string; generated: string}
}> {
  const wanted = new Set(config.eval.metrics)
  const sets = await resolveSets(config, runDir)
  const metrics: Record<string, MetricResult> = {}
  Object.assign(metrics, await computeInceptionMetrics(config, runDir, sets, wanted))
  const imagesAvailable = sets.realFiles.length > 0 && sets.genFiles.length > 0
  const noImages = 'needs image folders on both sides (only feature files were given)'
  if (wanted.has('hfd'))
    metrics.hfd = imagesAvailable ? await computeHfd(config, sets) : {definition: 'hfd', skipped: noImages}
  if (wanted.has('dfd'))
    metrics.dfd = imagesAvailable
      ? await computeDfd(runDir, sets, config.eval.batchSize)
      : {definition: 'dfd', skipped: noImages}
  if (wanted.has('control')) metrics.control = await computeControl(config, runDir)
  for (const [name, m] of Object.entries(metrics)) {
    log.info(
      m.skipped
        ? `eval ${name}: skipped (${m.skipped})`
        : `eval ${name}: ${m.value !== undefined ? m.value.toPrecision(6) : 'done'}${m.std !== undefined ? ` ± ${m.std.toPrecision(3)}` : ''}`
    )
  }
  return {
    metrics,
    sets: {nReal: sets.realFiles.length, nGen: sets.genFiles.length, real: sets.realSource, generated: sets.genSource}
  }
}

async function work(ctx: StageContext): Promise<StageResult> {
  const {metrics, sets} = await evaluate(ctx.config, ctx.runDir)
  const path = runLayout(ctx.runDir).eval.metrics
  await writeJsonAtomic(path, {
    seed: ctx.config.run.seed,
    resize: ctx.config.eval.resize,
    inceptionWeights: ctx.config.weights.inception || null,
    nReal: sets.nReal,
    nGen: sets.nGen,
    realImages: sets.real,
    generatedImages: sets.generated,
    metrics
  })
  return {
    outputs: [path],
    notes: {
      metrics: Object.fromEntries(
        Object.entries(metrics).map(([k, m]) => [k, m.skipped ? `skipped: ${m.skipped}` : (m.value ?? null)])
      )
    }
  }
}

export const evalStage: StageSpec = {
  name: 'eval',
  configSlice: config => ({
    eval: config.eval,
    inception: config.weights.inception,
    data: config.data,
    dataset: datasetPathOf(config)
  }),
  inputs: (config, runDir) => {
    const e = config.eval
    const inputs: Array<{path: string; madeBy: string}> = []
    if (e.samples) inputs.push({path: e.samples, madeBy: `a generator writing images to ${e.samples}`})
    else if (!e.featuresGen) inputs.push({path: runLayout(runDir).samples.manifest, madeBy: 'medgen generate'})
    if (e.real) inputs.push({path: e.real, madeBy: `copying real images to ${e.real}`})
    if (e.featuresReal) inputs.push({path: e.featuresReal, madeBy: 'pytorch-fid or another feature extractor'})
    if (e.featuresGen) inputs.push({path: e.featuresGen, madeBy: 'pytorch-fid or another feature extractor'})
    if (config.weights.inception)
      inputs.push({
        path: config.weights.inception,
        madeBy: 'downloading pt_inception-2015-12-05-6726825d.pth (weights.inception)'
      })
    // Optional inputs: when present they change dfd/control, so a newer one must redo eval.
    for (const [wanted, path, madeBy] of [
      ['dfd', runLayout(runDir).classify.model, 'medgen classify'],
      ['control', runLayout(runDir).visual.model, 'medgen train-visual']
    ] as const) {
      if (e.metrics.includes(wanted) && existsSync(path)) inputs.push({path, madeBy})
    }
    return inputs
  },
  work
}
