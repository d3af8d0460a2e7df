// The synth stage: a synthetic dataset in a real dataset's layout with ground-truth
// attributes (src/data/synth/write.ts). Output: synth.out, else <run>/data (where the later
// stages look by default); the manifest lives in <run>/synth/ so that the dataset folder
// holds only the dataset.
import {resolve} from 'node:path'
import type {MedgenConfig} from '../config/schema.js'
import {log} from '../util/log.js'
import {progress} from '../util/progress.js'
import {runStage, type RunStageOptions, type StageSpec} from './stage.js'
import {runLayout} from '../run/layout.js'

export function synthOutOf(config: MedgenConfig): string {
  return resolve(config.synth.out || runLayout(config.run.dir).defaultDataset)
}

export const synthStage: StageSpec = {
  name: 'synth',
  // placement joins the slice only when set, so runs made before it existed stay up to date
  configSlice: config => ({
    kind: config.synth.kind,
    n: config.synth.n,
    size: config.synth.size,
    out: synthOutOf(config),
    ...(config.synth.placement !== 'anywhere' ? {placement: config.synth.placement} : {})
  }),
  inputs: () => [],
  async work({config}) {
    const {synthesize} = await import('../data/synth/write.js')
    const out = synthOutOf(config)
    const bar = progress('synth', config.synth.n)
    const result = await synthesize({
      kind: config.synth.kind,
      n: config.synth.n,
      size: config.synth.size,
      out,
      seed: config.run.seed,
      placement: config.synth.placement,
      onImage: () => bar.tick()
    })
    bar.stop()
    const classes = Object.entries(result.classes)
      .sort((a, b) => b[1] - a[1])
      .map(([c, k]) => `${c} ${k}`)
      .join(', ')
    log.info(
      `synth: wrote ${result.count} ${config.synth.kind} images at ${config.synth.size} px to ${out} in ${result.seconds.toFixed(1)} s (${classes})`
    )
    return {outputs: [out], notes: {classes: result.classes, seconds: result.seconds}}
  }
}

export async function runSynth(
  config: MedgenConfig,
  opts: RunStageOptions = {}
): Promise<{skipped: boolean; seconds: number}> {
  return runStage(synthStage, config, opts)
}
