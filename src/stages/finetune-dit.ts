// The finetune-dit stage (paper §2.2-2.3, docs/REFERENCE.md §5): PixArt-alpha conditioned on the
// HFFM anatomy/style tokens. With weights.pixart the base transformer is frozen and only LoRA +
// the condition module train (the authors' setup). Without it (the embedded default) a small
// transformer is trained from scratch together with the condition module, in pixel space, or in
// latent space when weights.vae is given or dit.vae.train asks for a small VAE trained here first
// (dit/vae/, src/stages/dit/vae-train.ts); dit.json and the manifest say which.
import * as tf from '@tensorflow/tfjs'
import {relative, resolve} from 'node:path'
import {UserError} from '../errors.js'
import {writeFileAtomic, writeJsonAtomic} from '../io/atomic.js'
import type {MedgenConfig} from '../config/schema.js'
import {pixartPreset, type PixArtConfig} from '../models/pixart/config.js'
import {loadPixArt} from '../models/pixart/load.js'
import {loadVae} from '../models/vae/load.js'
import {vaeDecode} from '../models/vae/autoencoder.js'
import {loraTargetList} from '../models/lora.js'
import {Rng} from '../util/rng.js'
import {log} from '../util/log.js'
import {activeBackend} from '../backend/index.js'
import type {StageContext, StageResult, StageSpec} from './stage.js'
import type {StageInput} from './manifest.js'
import {buildDitModel, countTrainable, type DitModelSpec} from './dit/model.js'
import {DitTrainer, lossSummary} from './dit/trainer.js'
import {loadDitTrainingSet} from './dit/data.js'
import {saveDitArtifacts, type DitMeta} from './dit/artifacts.js'
import {linePlotPng, rawAndSmoothed} from '../util/plot.js'
import {demoVae} from './dit/vae-train.js'
import {useCheckpointing} from '../models/pixart/checkpoint.js'
import {countPixArtParams} from '../models/pixart/transformer.js'
import {datasetPathOf, runLayout, stageDirs} from '../run/layout.js'

export interface FinetuneDitOptions {
  /** 'latest', a checkpoint folder, or false; undefined = resume when a checkpoint exists unless --force */
  resume?: string | boolean
}

function ditInputs(config: MedgenConfig, runDir: string): StageInput[] {
  const inputs: StageInput[] = [
    {path: runLayout(runDir).captions.jsonl, madeBy: 'medgen caption'},
    {path: runLayout(runDir).text.features, madeBy: 'medgen align-text'}
  ]
  if (config.dit.conditioning === 'concat' || config.dit.conditioning === 'text') {
    inputs.push({path: runLayout(runDir).text.model, madeBy: 'medgen align-text'})
  }
  return inputs
}

/** Transformer config and frozen base weights (if any), checked against the pixel/latent space. */
async function transformerFor(
  config: MedgenConfig
): Promise<{cfg: PixArtConfig; base: Map<string, tf.Tensor> | null; space: 'pixel' | 'latent'}> {
  if (config.weights.vae && config.dit.vae.train)
    throw new UserError(
      'dit.vae.train is true but weights.vae is set: use the given VAE (set dit.vae.train: false) or train one (unset weights.vae)'
    )
  const space = config.weights.vae || config.dit.vae.train ? 'latent' : 'pixel'
  if (config.weights.pixart) {
    if (space === 'pixel')
      throw new UserError(
        'weights.pixart is set but weights.vae is not: a pretrained PixArt works on VAE latents; set weights.vae to its vae/ folder'
      )
    const {config: cfg, params} = await loadPixArt(resolve(config.weights.pixart))
    return {cfg, base: params, space}
  }
  const cfg = pixartPreset(config.dit.preset)
  const wanted = space === 'pixel' ? 3 : 4
  if (cfg.in_channels !== wanted) {
    throw new UserError(
      `dit.preset ${config.dit.preset} has ${cfg.in_channels} input channels but ${space} space needs ${wanted}; ` +
        (space === 'pixel'
          ? 'use pixart-demo, or set weights.vae or dit.vae.train'
          : 'use a latent preset (pixart-demo-latent, pixart-tiny, pixart-small, pixart-xl-512)')
    )
  }
  if (config.dit.vae.train && cfg.in_channels !== config.dit.vae.latentChannels) {
    throw new UserError(
      `dit.vae.latentChannels is ${config.dit.vae.latentChannels} but dit.preset ${config.dit.preset} takes ${cfg.in_channels} input channels`
    )
  }
  return {cfg, base: null, space}
}

async function work(ctx: StageContext, opts: FinetuneDitOptions): Promise<StageResult> {
  const {config, runDir} = ctx
  const dit = config.dit
  const {cfg, base, space} = await transformerFor(config)
  const vae = config.weights.vae
    ? {...(await loadVae(resolve(config.weights.vae))), folder: resolve(config.weights.vae)}
    : dit.vae.train
      ? await demoVae(config, runDir, cfg, !ctx.force)
      : null
  const spec: DitModelSpec = {
    transformer: cfg,
    space,
    latentScale: vae ? vae.config.scaling_factor : 1,
    conditioner: {
      mode: dit.conditioning,
      captionChannels: cfg.caption_channels,
      anatomyDim: 8,
      styleDim: 8,
      hidden: 256,
      textDim: 0,
      numClasses: 0
    },
    lora: {rank: dit.lora.rank, alpha: dit.lora.alpha ?? dit.lora.rank, targets: loraTargetList(dit.lora.targets)}
  }
  const {set, textEncoder, pixelNormalization} = await loadDitTrainingSet(config, runDir, spec, vae)
  spec.conditioner = {
    ...spec.conditioner,
    anatomyDim: set.anatomyDim,
    styleDim: set.styleDim,
    textDim: set.textDim,
    numClasses: set.classNames.length
  }
  const model = buildDitModel(spec, base, new Rng(config.run.seed).fork('finetune-dit'))
  const trainable = countTrainable(model)
  log.info(
    `finetune-dit: ${set.examples.length} training images, ${space} space ${set.modelShape.join('x')}, ` +
      (model.fromScratch
        ? `transformer (${countPixArtParams(cfg)} params) trained from scratch`
        : `frozen base + ${loraDescription(dit.lora.rank, spec.lora.alpha, dit.lora.targets)}`) +
      `, ${dit.conditioning} conditioning, ${trainable} trainable parameters`
  )
  // colour loss works on pixels in [-1, 1]: decode latents, or undo the pixel centring
  const decode = vae
    ? (z: tf.Tensor4D) => vaeDecode({params: vae.params}, vae.config, z.div(spec.latentScale) as tf.Tensor4D)
    : pixelNormalization
      ? (x: tf.Tensor4D) => x.mul(pixelNormalization.scale).add(pixelNormalization.mean) as tf.Tensor4D
      : undefined
  // v-prediction for from-scratch models (scripts/experiments/demo-dit-sweep.ts); a pretrained PixArt predicts epsilon
  const prediction: 'epsilon' | 'v' = dit.prediction === 'auto' ? (model.fromScratch ? 'v' : 'epsilon') : dit.prediction
  const trainer = new DitTrainer(model, set, {
    prediction,
    steps: dit.steps,
    batchSize: dit.batchSize,
    lr: dit.lr,
    weightDecay: dit.weightDecay,
    warmupSteps: Math.min(dit.warmupSteps, dit.steps),
    gradClip: dit.gradClip,
    condDropout: dit.condDropout,
    colour: dit.colourLoss,
    seed: config.run.seed,
    decode,
    checkpointBlocks: useCheckpointing(dit.gradientCheckpointing, cfg, dit.batchSize),
    // lr, warm-up, clipping and the number of steps may change on resume (e.g. after a non-finite loss); the model may not
    identity: {
      dit: {
        ...dit,
        gradientCheckpointing: undefined,
        steps: undefined,
        checkpointingSteps: undefined,
        keepCheckpoints: undefined,
        lr: undefined,
        warmupSteps: undefined,
        gradClip: undefined
      },
      weights: {pixart: config.weights.pixart, vae: config.weights.vae}
    }
  })
  const resume = opts.resume ?? (ctx.force ? false : ctx.resume ? 'latest' : false)
  // a forced fresh start must not leave older (possibly later-step) checkpoints to be resumed later
  // (a fresh start removes older checkpoints: src/train/trainer.ts)
  const layout = runLayout(runDir).dit
  const started = Date.now()
  const result = await trainer.train(
    layout.checkpoints,
    dit.checkpointingSteps,
    dit.keepCheckpoints,
    resume,
    undefined,
    layout.losses
  )
  const seconds = (Date.now() - started) / 1000

  const meta: DitMeta = {
    format: 'medgen-dit/1',
    space,
    preset: config.weights.pixart ? 'weights.pixart' : dit.preset,
    transformer: cfg,
    conditioner: spec.conditioner,
    latentScale: spec.latentScale,
    baseWeights: config.weights.pixart ? resolve(config.weights.pixart) : '',
    vae: dit.vae.train ? relative(layout.dir, layout.vae) : (vae?.folder ?? ''),
    vaeTrained: dit.vae.train,
    trainedFromScratch: model.fromScratch,
    lora: model.fromScratch ? null : spec.lora,
    classNames: set.classNames,
    textEncoder,
    textLength: set.textLength,
    pixelNormalization: pixelNormalization ? {mean: pixelNormalization.mean, scale: pixelNormalization.scale} : null,
    predictionType: prediction,
    clipRange: pixelNormalization?.clipRange ?? null
  }
  const outputs = await saveDitArtifacts(runDir, model, meta)
  const summary = lossSummary(trainer.history)
  const colourValues = trainer.history.filter(h => h.colour !== null).map(h => h.colour as number)
  const metrics = {
    ...(vae && 'summary' in vae ? {vae: vae.summary} : {}),
    steps: result.stepsDone,
    trainedFromScratch: model.fromScratch,
    space,
    conditioning: dit.conditioning,
    trainableParameters: trainable,
    loss: {
      ...summary,
      definition:
        'mean training loss (MSE on the ' +
        prediction +
        ' target, + weight*colour on colour steps in train mode) over the first and the last 10% of recorded steps'
    },
    colourLoss: {
      mode: dit.colourLoss.mode,
      weight: dit.colourLoss.weight,
      every: dit.colourLoss.every,
      meanValue: colourValues.length ? colourValues.reduce((a, b) => a + b, 0) / colourValues.length : null
    },
    secondsThisRun: seconds,
    backend: activeBackend(),
    lastCheckpoint: result.lastCheckpoint
  }
  await writeJsonAtomic(layout.metrics, metrics)
  await writeFileAtomic(
    layout.lossPlot,
    await linePlotPng(
      rawAndSmoothed(
        'loss',
        trainer.history.map((h, i) => [i + 1, h.loss])
      ),
      {title: `finetune-dit loss (${dit.conditioning}, ${space})`, xLabel: 'step', yLabel: 'loss'}
    )
  )
  outputs.push(layout.metrics, layout.lossPlot, layout.losses)
  log.info(
    `finetune-dit: loss ${summary.firstTenthMean.toFixed(4)} (first 10%) -> ${summary.lastTenthMean.toFixed(4)} (last 10%) in ${seconds.toFixed(0)} s`
  )
  trainer.optimizer.dispose()
  return {outputs, notes: {trainedFromScratch: model.fromScratch, space, trainableParameters: trainable, loss: summary}}
}

/** The log's words for the adapter: its rank, alpha and the scale alpha / rank they give (issue 21: the scale is said, not implied). */
export function loraDescription(rank: number, alpha: number, targets: string): string {
  return `LoRA r=${rank} alpha=${alpha} scale ${(alpha / rank).toPrecision(3)} (${targets})`
}

export function finetuneDitStageFor(opts: FinetuneDitOptions = {}): StageSpec {
  return {
    name: 'finetune-dit',
    dir: stageDirs.dit,
    configSlice: config => ({
      dit: config.dit,
      pixart: config.weights.pixart,
      vae: config.weights.vae,
      dataset: datasetPathOf(config)
    }),
    inputs: ditInputs,
    work: ctx => work(ctx, opts)
  }
}

export const finetuneDitStage: StageSpec = finetuneDitStageFor()
