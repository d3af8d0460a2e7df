// The generate stage (paper §2.3, docs/REFERENCE.md §6, issue 8): samples from the fine-tuned DiT
// conditioned on text features, into samples/<class>/<id>.png with samples/manifest.jsonl,
// summary.json and a contact sheet per class. `medgen run` uses `generateStage` (N images per
// class, generate.perClass); `medgen generate` builds a spec for its flags with generateStageFor.
import type {MedgenConfig} from '../config/schema.js'
import type {StageInput} from './manifest.js'
import type {StageSpec} from './stage.js'
import type {Shard} from '../util/shard.js'
import {needsCaptions, type ResolvedRequest} from './generate/items.js'
import {generateSamples} from './generate/run.js'
import type {ModelLoader} from './generate/models.js'
import {runLayout, stageDirs} from '../run/layout.js'

export interface GenerateStageOptions {
  shard?: Shard | null
  loadModels?: ModelLoader
}

/** Artifacts generate reads, each with the command that makes it. */
export function generateInputs(config: MedgenConfig, runDir: string, request: ResolvedRequest): StageInput[] {
  const inputs: StageInput[] = [
    {path: runLayout(runDir).text.model, madeBy: 'medgen align-text'},
    // dit.json is written last by finetune-dit (src/stages/dit/artifacts.ts); hffm.safetensors
    // changes with every training run, so its hash tells a retrained DiT apart.
    {path: runLayout(runDir).dit.meta, madeBy: 'medgen finetune-dit'},
    {path: runLayout(runDir).dit.hffm, madeBy: 'medgen finetune-dit'}
  ]
  if (needsCaptions(request)) inputs.unshift({path: runLayout(runDir).captions.jsonl, madeBy: 'medgen caption'})
  return inputs
}

export function generateStageFor(request: ResolvedRequest, options: GenerateStageOptions = {}): StageSpec {
  const shard = options.shard ?? null
  return {
    name: 'generate',
    // a shard keeps its own stage manifest; the images and the merged manifest live in samples/
    dir: shard ? runLayout('').samples.parts.stageDir(shard) : stageDirs.samples,
    configSlice: config => ({generate: config.generate, dataKind: config.data.kind, request, shard}),
    inputs: (config, runDir) => generateInputs(config, runDir, request),
    async work(ctx) {
      const result = await generateSamples({
        config: ctx.config,
        runDir: ctx.runDir,
        request,
        shard,
        force: ctx.force,
        loadModels: options.loadModels
      })
      return {
        outputs: result.outputs,
        notes: {
          requested: result.requested,
          generated: result.generated,
          skipped: result.skipped,
          meanSecondsPerImage: result.meanSecondsPerImage,
          loadSeconds: result.loadSeconds,
          sampler: ctx.config.generate.sampler,
          steps: ctx.config.generate.steps,
          guidance: ctx.config.generate.guidance
        }
      }
    }
  }
}

/** `medgen run`: generate.perClass images for every class (prompts drawn from its captions), plus the swap triples and control grid the config asks for. */
export function runRequest(config: MedgenConfig): ResolvedRequest {
  const g = config.generate
  return {
    prompts: [],
    grid: false,
    classes: [],
    perClass: g.perClass,
    ...(g.swapPairs ? {swapPairs: g.swapPairs} : {}),
    ...(g.controlGrid ? {controlGrid: true} : {})
  }
}

export const generateStage: StageSpec = {
  ...generateStageFor({prompts: [], grid: false, classes: [], perClass: -1}),
  configSlice: config => ({
    generate: config.generate,
    dataKind: config.data.kind,
    request: {perClass: config.generate.perClass}
  }),
  inputs: (config, runDir) => generateInputs(config, runDir, runRequest(config)),
  async work(ctx) {
    return generateStageFor(runRequest(ctx.config)).work(ctx)
  }
}
