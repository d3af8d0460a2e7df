// `medgen run`: the stages in pipeline order through one run directory. classify runs before
// eval because eval's `dfd` measures distances in the trained classifier's feature space. Each stage is
// imported lazily (so `medgen run --help` stays fast) and run through runStage, which skips
// it when its manifest matches its inputs and config.
import type {MedgenConfig} from '../config/schema.js'
import {UserError} from '../errors.js'
import type {StageSpec} from './stage.js'

export const pipelineOrder = ['synth', 'caption', 'train-visual', 'align-text', 'finetune-dit', 'generate', 'classify', 'eval'] as const
export type PipelineStage = typeof pipelineOrder[number]

const loaders: Record<PipelineStage, () => Promise<StageSpec>> = {
  'synth': async () => (await import('./synth.js')).synthStage,
  'caption': async () => (await import('./caption.js')).captionStage,
  'train-visual': async () => (await import('./train-visual.js')).trainVisualStage,
  'align-text': async () => (await import('./align-text.js')).alignTextStage,
  'finetune-dit': async () => (await import('./finetune-dit.js')).finetuneDitStage,
  'generate': async () => (await import('./generate.js')).generateStage,
  'eval': async () => (await import('./eval.js')).evalStage,
  'classify': async () => (await import('./classify.js')).classifyStage,
}

export async function loadStage(name: PipelineStage): Promise<StageSpec> {
  const spec = await loaders[name]()
  if (!spec) throw new Error(`stage ${name} has no StageSpec export`)
  return spec
}

export function selectStages(config: MedgenConfig, from?: string, to?: string): PipelineStage[] {
  for (const [flag, value] of [['--from', from], ['--to', to]] as const) {
    if (value && !pipelineOrder.includes(value as PipelineStage)) {
      throw new UserError(`${flag} ${value}: unknown stage; stages are ${pipelineOrder.join(', ')}`)
    }
  }
  const lo = from ? pipelineOrder.indexOf(from as PipelineStage) : 0
  const hi = to ? pipelineOrder.indexOf(to as PipelineStage) : pipelineOrder.length - 1
  if (lo > hi) throw new UserError(`--from ${from} comes after --to ${to}`)
  const wanted = new Set(config.run.stages)
  return pipelineOrder.filter((s, i) => i >= lo && i <= hi && wanted.has(s))
}
