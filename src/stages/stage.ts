// The frame every stage runs in: check inputs, skip when up to date, record a manifest.
import {join} from 'node:path'
import {promises as fs} from 'node:fs'
import type {MedgenConfig} from '../config/schema.js'
import {activeBackend} from '../backend/index.js'
import {
  configHashOf,
  hashInputs,
  hashOutputs,
  isUpToDate,
  medgenVersion,
  requireInputs,
  writeManifest,
  type StageInput
} from './manifest.js'
import {log} from '../util/log.js'

export interface StageContext {
  config: MedgenConfig
  runDir: string
  /** folder of this stage's outputs: <run>/<stage> (created) */
  outDir: string
  force: boolean
  resume: boolean
}

export interface StageResult {
  /** files or folders the stage wrote, hashed into its manifest */
  outputs: string[]
  notes?: Record<string, unknown>
}

export interface StageSpec {
  name: string
  /** the config that defines this stage's result: its own section plus what it depends on */
  configSlice: (config: MedgenConfig) => unknown
  inputs: (config: MedgenConfig, runDir: string) => StageInput[]
  work: (ctx: StageContext) => Promise<StageResult>
  /** checks that must pass before anything is written (servers reachable, datasets readable) */
  preflight?: (config: MedgenConfig, runDir: string) => Promise<void>
  /** folder name under the run dir; defaults to name */
  dir?: string
}

export interface RunStageOptions {
  force?: boolean
  resume?: boolean
  runDir?: string
}

export async function runStage(
  spec: StageSpec,
  config: MedgenConfig,
  opts: RunStageOptions = {}
): Promise<{skipped: boolean; seconds: number}> {
  const runDir = opts.runDir ?? config.run.dir
  const dirName = spec.dir ?? spec.name
  const inputs = spec.inputs(config, runDir)
  await requireInputs(inputs)
  const slice = {stage: spec.configSlice(config), seed: config.run.seed}
  const configHash = configHashOf(slice)
  const inputHashes = await hashInputs(runDir, inputs)
  if (!opts.force && (await isUpToDate(runDir, dirName, configHash, inputHashes))) {
    log.info(`${spec.name}: up to date, skipped (use --force to redo)`)
    return {skipped: true, seconds: 0}
  }
  await spec.preflight?.(config, runDir)
  const outDir = join(runDir, dirName)
  await fs.mkdir(outDir, {recursive: true})
  const started = new Date()
  const base = {
    medgen: medgenVersion,
    stage: dirName,
    backend: activeBackend(),
    seed: config.run.seed,
    config: slice,
    configHash,
    inputs: inputHashes,
    startedAt: started.toISOString()
  }
  await writeManifest(runDir, {...base, status: 'running', outputs: {}, finishedAt: null, seconds: null})
  const result = await spec.work({config, runDir, outDir, force: !!opts.force, resume: opts.resume ?? true})
  const finished = new Date()
  const seconds = (finished.getTime() - started.getTime()) / 1000
  await writeManifest(runDir, {
    ...base,
    backend: activeBackend(),
    status: 'complete',
    outputs: await hashOutputs(runDir, result.outputs),
    finishedAt: finished.toISOString(),
    seconds,
    notes: result.notes
  })
  return {skipped: false, seconds}
}
