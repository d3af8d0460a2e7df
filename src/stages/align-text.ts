// `medgen align-text` (paper §2.2, Fig. 3; docs/REFERENCE.md §4): encode the captions with the
// frozen text encoder (cached per caption set), train the anatomy/style heads against the
// visual features on the train split, and write the heads, per-caption text features,
// held-out figures and the t-SNE figure.
import {basename} from 'node:path'
import {existsSync} from 'node:fs'
import * as tf from '@tensorflow/tfjs'
import type {MedgenConfig} from '../config/schema.js'
import {UserError} from '../errors.js'
import {sha256, stableStringify, writeJsonAtomic} from '../io/atomic.js'
import {writeSafetensors} from '../io/safetensors.js'
import {exportParams, kindOf} from '../models/params.js'
import {initTextDisentangler, textDisentanglerConfig} from '../models/text-disentangler.js'
import {log} from '../util/log.js'
import {progress} from '../util/progress.js'
import {loadAlignmentInputs} from './align-text/data.js'
import {meanCosine, pickFigureRows, probeAttributes, tsnePanel} from './align-text/metrics.js'
import {cachedPooledEmbeddings, textCacheKey} from '../text/cache.js'
import {createTextEncoder} from '../text/encoder.js'
import {textFeatures, trainTextDisentangler} from './align-text/trainer.js'
import {writeTsneFigure} from './align-text/tsne-figure.js'
import type {StageContext, StageResult, StageSpec} from './stage.js'
import {runLayout, stageDirs} from '../run/layout.js'

export interface AlignTextOptions {
  /** stop (with a checkpoint) after this many optimizer steps, as an interruption would */
  stopAfterSteps?: number
}

export async function alignText(ctx: StageContext, opts: AlignTextOptions = {}): Promise<StageResult> {
  const {config, runDir} = ctx
  const t = config.text
  const data = await loadAlignmentInputs(runDir)
  const n = data.rows.length
  const dims = {anatomyDim: data.anatomyDim, styleDim: data.styleDim}
  const trainRows = data.rows.flatMap((r, i) => (r.split === 'train' ? [i] : []))
  const heldOutRows = data.rows.flatMap((r, i) => (r.split !== 'train' ? [i] : []))
  const valRows = data.rows.flatMap((r, i) => (r.split === 'val' ? [i] : []))
  const testRows = data.rows.flatMap((r, i) => (r.split === 'test' ? [i] : []))
  if (trainRows.length === 0) throw new UserError(`${runLayout(runDir).captions.jsonl}: no caption in the train split`)

  const encoder = await createTextEncoder(config)
  const texts = data.rows.map(r => r.caption)
  const bar = progress('align-text: encoding captions', n)
  const cached = await cachedPooledEmbeddings(encoder, texts, runDir, t.encodeBatchSize, k => bar.tick(k))
  bar.stop()
  log.info(
    `align-text: ${n} captions, ${encoder.description.kind} encoder (${encoder.hidden}-d), embeddings ${cached.hit ? 'from cache' : 'computed'} ${cached.path}`
  )
  const description = encoder.description
  const embeddingKey = textCacheKey(encoder, texts)
  encoder.dispose()

  const model = textDisentanglerConfig(cached.hidden, dims)
  const layout = runLayout(runDir).text
  const trained = await trainTextDisentangler(
    {embeddings: cached.pooled, anatomy: data.anatomy, style: data.style, n},
    trainRows,
    {
      model,
      seed: config.run.seed,
      epochs: t.epochs,
      batchSize: t.batchSize,
      lr: t.lr,
      alignWeight: t.alignWeight,
      reconWeight: t.reconWeight,
      checkpointDir: layout.checkpoints,
      checkpointEvery: t.checkpointEvery,
      keepCheckpoints: t.keepCheckpoints,
      resume: ctx.resume && !ctx.force,
      stopAfterSteps: opts.stopAfterSteps,
      losses: layout.losses,
      // a checkpoint of other captions, embeddings or split is refused (src/train/same-training.ts)
      identity: {embeddings: embeddingKey, trainCaptions: sha256(stableStringify(trainRows)).slice(0, 16)}
    }
  )
  if (trained.stepsDone < trained.totalSteps) {
    throw new UserError(
      `align-text: stopped after ${trained.stepsDone} of ${trained.totalSteps} steps; checkpoint ${trained.lastCheckpoint}; resume with --resume`,
      75
    )
  }

  const after = textFeatures(trained.params, model, cached.pooled, n)
  const initial = initTextDisentangler(model, config.run.seed)
  const before = textFeatures(initial, model, cached.pooled, n)
  tf.dispose([...initial.values()])
  const visual = {anatomy: data.anatomy, style: data.style}
  const cos = (f: {anatomy: Float32Array; style: Float32Array}, rows: number[]) => ({
    anatomy: meanCosine(f.anatomy, visual.anatomy, dims.anatomyDim, rows),
    style: meanCosine(f.style, visual.style, dims.styleDim, rows),
    n: rows.length
  })

  const {model: modelPath, features: featuresPath, metrics: metricsPath, tsne: tsnePath} = layout
  const state = await exportParams(trained.params, (name, p) => kindOf(p.shape, name))
  await writeSafetensors(modelPath, state, {
    encoder: JSON.stringify(description),
    config: JSON.stringify(model),
    format: 'pt',
    producer: 'medgen align-text'
  })
  await writeSafetensors(
    featuresPath,
    {
      anatomy: {dtype: 'F32', shape: [n, dims.anatomyDim], data: after.anatomy},
      style: {dtype: 'F32', shape: [n, dims.styleDim], data: after.style}
    },
    {ids: JSON.stringify(data.rows.map(r => r.id)), splits: JSON.stringify(data.rows.map(r => r.split))}
  )
  tf.dispose([...trained.params.values()])

  const outputs = [modelPath, featuresPath, metricsPath, layout.losses]
  let figure: Record<string, unknown> | null = null
  if (t.tsnePoints > 0) {
    const rows = pickFigureRows(trainRows, heldOutRows, t.tsnePoints, config.run.seed)
    const classes = data.rows.map(r => r.class || 'unlabelled')
    const tsneOpts = {perplexity: t.tsnePerplexity, iterations: t.tsneIterations, seed: config.run.seed}
    log.info(`align-text: t-SNE of ${2 * rows.length} points, before and after alignment`)
    const pre = tsnePanel('before alignment', rows, classes, before, visual, dims, tsneOpts)
    const post = tsnePanel('after alignment', rows, classes, after, visual, dims, tsneOpts)
    await writeTsneFigure(tsnePath, [pre.panel, post.panel])
    outputs.push(tsnePath)
    figure = {file: basename(tsnePath), before: pre.summary, after: post.summary}
  }

  const probeTest = heldOutRows.length ? heldOutRows : trainRows
  const attributes = data.rows.map(r => r.attributes)
  const metrics = {
    definitions: {
      cosine:
        'mean over captions of cos(text head output, visual target): anatomy head vs the visual anatomy vector, style head vs style mu (docs/REFERENCE.md §4.4)',
      anatomyVector:
        'visual anatomy target: occupancy = fraction of pixels per one-hot anatomy channel (the authors); occupancy+shape = per channel [occupancy, compactness, elongation]',
      heldOut: 'captions whose split is not train (val + test); the heads never saw them',
      before: 'the same heads at their seeded initialisation, before any training',
      probes:
        'multinomial logistic regression on the standardised head outputs (anatomyDim / styleDim wide), fitted on train captions, accuracy on held-out captions; chance = majority training label',
      probesBefore:
        'the same probes on the untrained heads: the control. Text features are deterministic functions of the caption, so a wide untrained head already lets a probe read most attributes (docs/RESULTS.md, Text alignment)',
      tsne: "neighbourAgreement = fraction of each point's 5 nearest t-SNE neighbours sharing its modality (1 = modalities apart, ~0.5 = mixed) or class"
    },
    encoder: description,
    anatomyVector: data.anatomyVector,
    anatomyDim: dims.anatomyDim,
    styleDim: dims.styleDim,
    captions: {total: n, train: trainRows.length, val: valRows.length, test: testRows.length},
    training: {
      epochs: t.epochs,
      steps: trained.totalSteps,
      finalEpoch: trained.history[trained.history.length - 1] ?? null,
      history: trained.history
    },
    cosine: {
      heldOut: cos(after, heldOutRows),
      val: cos(after, valRows),
      test: cos(after, testRows),
      train: cos(after, trainRows),
      beforeHeldOut: cos(before, heldOutRows)
    },
    probes: probeAttributes(attributes, after.anatomy, after.style, dims, trainRows, probeTest),
    probesBefore: probeAttributes(attributes, before.anatomy, before.style, dims, trainRows, probeTest),
    tsne: figure
  }
  await writeJsonAtomic(metricsPath, metrics)
  log.info(
    `align-text: held-out cosine anatomy ${metrics.cosine.heldOut.anatomy.toFixed(4)} style ${metrics.cosine.heldOut.style.toFixed(4)} ` +
      `(before training ${metrics.cosine.beforeHeldOut.anatomy.toFixed(4)} / ${metrics.cosine.beforeHeldOut.style.toFixed(4)})`
  )
  return {outputs, notes: {heldOutCosine: metrics.cosine.heldOut, embeddingsCached: cached.hit}}
}

export const alignTextStage: StageSpec = {
  name: 'align-text',
  dir: stageDirs.text,
  configSlice: (c: MedgenConfig) => ({text: c.text, weightsText: c.weights.text}),
  inputs: (c, runDir) => [
    {path: runLayout(runDir).captions.jsonl, madeBy: 'medgen caption'},
    {path: runLayout(runDir).visual.features, madeBy: 'medgen train-visual'},
    // the encoder folder is hashed too (size + mtime), so new weights redo the stage; a missing
    // folder is reported by the encoder loader with its own message
    ...(c.weights.text && c.text.encoder !== 'hashed' && existsSync(c.weights.text)
      ? [{path: c.weights.text, madeBy: 'weights.text'}]
      : [])
  ],
  work: ctx => alignText(ctx)
}
