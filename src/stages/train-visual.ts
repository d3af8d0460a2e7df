// The train-visual stage (paper §2.2, Eq. 1; docs/REFERENCE.md §3): trains SDNet on the run's
// dataset and writes <run>/visual/{model,features}.safetensors, grid.png, loss-curves.png,
// dice-curve.png and metrics.json. `loadSegmenter` (re-exported) segments any image with the result.
import type {MedgenConfig} from '../config/schema.js'
import {writeJsonAtomic} from '../io/atomic.js'
import {PerceptualLoss} from '../losses/perceptual.js'
import {presetConfig, type SdnetConfig} from '../models/sdnet/config.js'
import {log} from '../util/log.js'
import {runStage, type RunStageOptions, type StageSpec} from './stage.js'
import {indicesOf} from './visual/data.js'
import {evaluateSplit} from './visual/evaluate.js'
import {loadVisualData} from './visual/load.js'
import {writeCurves, writeFeatures, writeGrid, writeModel} from './visual/outputs.js'
import {measureStyleSwap} from './visual/style-swap.js'
import {trainSdnet, type StepRecord} from './visual/trainer.js'
import {SDNET_LOSS_WEIGHTS} from '../losses/sdnet.js'
import type {StageInput} from './manifest.js'
import {datasetPathOf, runLayout, stageDirs} from '../run/layout.js'

export {loadSegmenter, type Segmenter} from '../models/sdnet/segmenter.js'

export function visualModelConfig(config: MedgenConfig): SdnetConfig {
  const v = config.visual
  return presetConfig(v.preset, v.adain, {imageSize: v.imageSize, ndf: v.ndf})
}

export const trainVisualStage: StageSpec = {
  name: 'train-visual',
  dir: stageDirs.visual,
  configSlice: config => ({
    visual: config.visual,
    data: {
      path: datasetPathOf(config),
      layout: config.data.layout,
      kind: config.data.kind,
      testFraction: config.data.testFraction,
      valFraction: config.data.valFraction
    }
  }),
  inputs: config => [
    {path: datasetPathOf(config), madeBy: 'medgen synth (or set data.path to a dataset)'},
    ...perceptualInputs(config)
  ],
  async work({config, runDir, resume, force}) {
    const v = config.visual
    // loaded and checked before the data, so a wrong VGG file fails fast
    const perceptual = v.perceptual.weights ? await PerceptualLoss.load(v.perceptual.weights) : undefined
    const modelConfig = visualModelConfig(config)
    const data = await loadVisualData(config, runDir, modelConfig.imageSize)
    const paths = runLayout(runDir).visual
    const started = performance.now()
    const cpu0 = process.cpuUsage()
    // a checkpoint of another model, batch size, seed or split is refused (src/train/same-training.ts)
    const result = await trainSdnet(data, {
      model: modelConfig,
      seed: config.run.seed,
      batchSize: v.batchSize,
      epochs: v.epochs,
      lr: v.lr,
      perceptual,
      checkpointDir: paths.checkpoints,
      checkpointEvery: v.checkpointEvery,
      keepCheckpoints: v.keepCheckpoints,
      resume: resume && !force ? 'latest' : false,
      losses: paths.losses
    })
    perceptual?.dispose()
    const cpu = process.cpuUsage(cpu0)
    const trainSeconds = (performance.now() - started) / 1000
    const {model, history} = result
    const evalSplit = indicesOf(data, 'test').length ? 'test' : 'val'
    const heldOut = indicesOf(data, evalSplit)
    const val = history.epochs.at(-1)
    const test = heldOut.length ? await evaluateSplit(model, data, heldOut, v.batchSize) : null
    const styleSwap = heldOut.length >= 2 ? await measureStyleSwap(model, data, heldOut, 8) : null

    await writeModel(paths.model, model, {preset: v.preset})
    await writeFeatures(paths.features, model, data, v.batchSize, v.anatomyVector)
    const gridRows = (heldOut.length >= 2 ? heldOut : indicesOf(data, 'train')).slice(0, v.gridImages)
    await writeGrid(paths.grid, model, data, gridRows)
    const curves = await writeCurves(paths, history)
    const metrics = {
      valDice: val?.valDice ?? null,
      bestValDice: history.epochs.length ? Math.max(...history.epochs.map(e => e.valDice)) : null,
      valReconL1: val?.valL1 ?? null,
      [`${evalSplit}Dice`]: test?.dice ?? null,
      [`${evalSplit}ReconL1`]: test?.l1 ?? null,
      styleSwap,
      epochHistory: history.epochs,
      steps: result.stepsDone,
      epochs: v.epochs,
      images: {
        total: data.ids.length,
        train: indicesOf(data, 'train').length,
        val: indicesOf(data, 'val').length,
        test: indicesOf(data, 'test').length
      },
      trainWallSeconds: trainSeconds,
      trainCpuSeconds: (cpu.user + cpu.system) / 1e6,
      ...(perceptual ? {perceptual: perceptualMetrics(perceptual.source, history.steps)} : {}),
      definitions: {
        valDice:
          "mean over validation images of the Dice (smoothing 0.1) of the segmentor's lesion channel > 0.5 vs the mask, eval mode, after the last epoch",
        valReconL1: 'mean |reconstruction - input| in [-1, 1] units, reconstruction decoded from mu (eval mode)',
        styleSwap:
          "image A's anatomy decoded with image B's mu (B = next held-out image): colourShiftTowardB = projection of the mean-RGB change onto B - A (0 kept A, 1 reached B); closerToB = fraction of pairs closer to B; maskIoUWithA = IoU of the lesion mask segmented from the swapped image vs the one segmented from A; maskIoUSelfReconstruction = the same for A decoded with its own mu (the baseline the swap can reach); maskIoUSwapVsSelf = IoU of the swapped image's mask vs the mask of A decoded with its own mu (the swap alone). Decoded images are min-max normalised per image before segmenting, as every input is",
        trainCpuSeconds:
          'user + system CPU seconds of the training loop (all threads); trainWallSeconds = wall-clock seconds of the same loop'
      }
    }
    await writeJsonAtomic(paths.metrics, metrics)
    log.info(
      `train-visual: val Dice ${metrics.valDice?.toFixed(4)}, ${evalSplit} Dice ${test?.dice.toFixed(4)}, recon L1 ${metrics.valReconL1?.toFixed(4)}, ` +
        `${result.stepsDone} steps in ${trainSeconds.toFixed(0)} s wall / ${metrics.trainCpuSeconds.toFixed(0)} s CPU`
    )
    model.dispose()
    // The files, not the layout's folders: `dir` holds manifest.json, which changes after the
    // outputs are hashed, so listing it made the stage never up to date on a rerun.
    return {
      outputs: [paths.model, paths.features, paths.grid, paths.metrics, paths.losses, ...curves],
      notes: {valDice: metrics.valDice, steps: result.stepsDone}
    }
  }
}

/** The VGG-19 weights file, hashed into the manifest like any input, when the perceptual loss is on. */
function perceptualInputs(config: MedgenConfig): StageInput[] {
  const path = config.visual.perceptual.weights
  return path ? [{path, madeBy: 'downloading torchvision vgg19-dcbb9e9d.pth (visual.perceptual.weights)'}] : []
}

function perceptualMetrics(source: {path: string; sha256: string}, steps: StepRecord[]) {
  const values = steps.map(s => s.perceptual).filter((p): p is number => p !== undefined)
  return {
    weights: source.path,
    sha256: source.sha256,
    weight: SDNET_LOSS_WEIGHTS.perceptual,
    firstStep: values[0] ?? null,
    lastStep: values.at(-1) ?? null,
    definition:
      'L1 between VGG-19 relu3_1 features of reconstruction and input (ImageNet-normalised), unweighted (total loss adds weight x value), at the first and last training step that used it'
  }
}

export async function runTrainVisual(config: MedgenConfig, opts: RunStageOptions = {}) {
  return runStage(trainVisualStage, config, opts)
}
