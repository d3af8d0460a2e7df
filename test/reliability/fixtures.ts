// Tiny pipeline shared by the kill/resume, signal and non-finite tests: one synthetic dataset
// (outside every run directory, so configs differ only by --run-dir) and a base run directory
// carried through caption -> train-visual -> align-text -> finetune-dit once. Each test copies
// the base (timestamps kept: folder hashes in manifests include mtimes) and reruns one stage.
import {expect} from 'chai'
import {cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import YAML from 'yaml'
import {readSafetensors} from '../../src/io/safetensors.js'
import {hashPath} from '../../src/stages/manifest.js'
import {tmpDir} from '../helpers/tmp.js'
import {medgenLines, runMedgen, type RunOptions, type RunResult} from './harness.js'

/** Sizes chosen so each training stage runs 6-10 optimizer steps in a few seconds on 2 cores. */
export function tinyConfigYaml(dataDir: string, sets: Record<string, unknown> = {}): string {
  const doc = YAML.parse(tinyYaml(dataDir)) as Record<string, Record<string, unknown>>
  for (const [key, value] of Object.entries(sets)) {
    const [section, name] = key.split('.')
    doc[section] = {...doc[section], [name]: value}
  }
  return YAML.stringify(doc)
}

function tinyYaml(dataDir: string): string {
  return `run:
  dir: unused-pass-run-dir
  seed: 7
  backend: wasm
  threads: 1
synth:
  n: 24
  size: 32
  out: ${dataDir}
data:
  path: ${dataDir}
  imageSize: 32
caption:
  captioner: measured
visual:
  imageSize: 32
  ndf: 4
  epochs: 2
  batchSize: 4
  checkpointEvery: 2
  gridImages: 2
text:
  encoder: hashed
  hashedDim: 64
  epochs: 2
  batchSize: 4
  checkpointEvery: 2
  tsnePoints: 0
dit:
  preset: pixart-demo
  steps: 8
  batchSize: 2
  warmupSteps: 2
  checkpointingSteps: 2
generate:
  steps: 2
  perClass: 2
  batchSize: 2
classify:
  seeds: 1
  epochs: 2
  batchSize: 4
  checkpointEvery: 2
  protocols: [real]
`
}

export interface Base {
  root: string
  config: string
  dataDir: string
  runDir: string
}

/** Fails the test with the child's stderr when a command that must work does not. */
export async function mustRun(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await runMedgen(args, opts)
  if (r.code !== 0) throw new Error(`medgen ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr.slice(-2000)}`)
  return r
}

let basePromise: Promise<Base> | null = null
/** Synth + caption + train-visual + align-text + finetune-dit, once per mocha process. */
export function prepareBase(): Promise<Base> {
  basePromise ??= (async () => {
    const root = tmpDir('medgen-rel-')
    const dataDir = join(root, 'data')
    const config = join(root, 'tiny.yaml')
    writeFileSync(config, tinyConfigYaml(dataDir))
    const runDir = join(root, 'base')
    await mustRun(['synth', '-c', config, '--run-dir', runDir])
    for (const stage of ['caption', 'train-visual', 'align-text', 'finetune-dit'])
      await mustRun([stage, '-c', config, '--run-dir', runDir])
    return {root, config, dataDir, runDir}
  })()
  return basePromise
}

const uninterrupted = new Map<string, Promise<string>>()
/** Run A of a stage: a copy of the base where `command` ran once, uninterrupted (memoized). */
export function uninterruptedRun(base: Base, command: string, stageDir: string): Promise<string> {
  let p = uninterrupted.get(command)
  if (!p) {
    p = (async () => {
      const dir = copyBase(base, `${command}-A`, [])
      if (!existsSync(join(dir, stageDir, 'manifest.json')))
        await mustRun([command, '-c', base.config, '--run-dir', dir])
      return dir
    })()
    uninterrupted.set(command, p)
  }
  return p
}

/** A copy of the base run directory without `remove` (the stage folders to redo). */
export function copyBase(base: Base, name: string, remove: string[]): string {
  const dir = join(base.root, name)
  rmSync(dir, {recursive: true, force: true})
  cpSync(base.runDir, dir, {recursive: true, preserveTimestamps: true})
  for (const r of remove) rmSync(join(dir, r), {recursive: true, force: true})
  return dir
}

/** Every safetensors file directly under `dir` and its subfolders, checkpoints and caches left out. */
export function weightFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name === 'checkpoints' || name === 'runs' || name.startsWith('.')) continue
      const p = join(d, name)
      const r = rel ? `${rel}/${name}` : name
      if (statSync(p).isDirectory()) walk(p, r)
      else if (name.endsWith('.safetensors')) out.push(r)
    }
  }
  walk(dir, '')
  return out
}

/** Largest |a-b| over every tensor of two safetensors files (same names and shapes required). */
export async function maxAbsDiff(a: string, b: string): Promise<number> {
  const ta = await readSafetensors(a)
  const tb = await readSafetensors(b)
  expect([...tb.keys()].sort(), `${b}: tensor names`).to.deep.equal([...ta.keys()].sort())
  let worst = 0
  for (const [name, x] of ta) {
    const y = tb.get(name)!
    expect(y.shape, `${name} shape`).to.deep.equal(x.shape)
    for (let i = 0; i < x.data.length; i++) {
      const d = Math.abs(Number(x.data[i]) - Number(y.data[i]))
      if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d
    }
  }
  return worst
}

/** Weights of a stage folder in two runs agree to 1e-6 in every tensor of every file. */
export async function expectSameWeights(dirA: string, dirB: string): Promise<number> {
  const files = weightFiles(dirA)
  expect(files.length, `no safetensors under ${dirA}`).to.be.greaterThan(0)
  expect(weightFiles(dirB)).to.deep.equal(files)
  let worst = 0
  for (const f of files) {
    const d = await maxAbsDiff(join(dirA, f), join(dirB, f))
    expect(d, `${f}: max abs diff`).to.be.at.most(1e-6)
    worst = Math.max(worst, d)
  }
  return worst
}

/** manifest.json of a stage: status complete and every recorded output hash matches the file. */
export async function expectManifestConsistent(runDir: string, stage: string): Promise<void> {
  const m = JSON.parse(readFileSync(join(runDir, stage, 'manifest.json'), 'utf8'))
  expect(m.status, `${stage}/manifest.json status`).to.equal('complete')
  for (const [rel, hash] of Object.entries(m.outputs as Record<string, string>)) {
    const p = rel.startsWith('/') ? rel : join(runDir, rel)
    expect(existsSync(p), `${stage} manifest lists ${rel} which is missing`).to.equal(true)
    expect(await hashPath(p), `${rel}: hash in ${stage}/manifest.json`).to.equal(hash)
  }
}

/** Every state.json under a folder (checkpoints), with its parsed content. */
export function checkpointStates(dir: string): Array<{path: string; state: any}> {
  const out: Array<{path: string; state: any}> = []
  const walk = (d: string) => {
    if (!existsSync(d)) return
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (name === 'state.json') out.push({path: p, state: JSON.parse(readFileSync(p, 'utf8'))})
    }
  }
  walk(dir)
  return out
}

/**
 * Resume counters: the newest checkpoint's step equals the uninterrupted run's, and a loss
 * history, where the state keeps one, lists each step exactly once (the bug of trainers that
 * double-count or skip steps after a second resume).
 */
export function expectCountersRight(dirA: string, dirB: string): void {
  const newest = (d: string) =>
    checkpointStates(d).reduce(
      (m, s) => (s.state.step > (m?.state.step ?? -1) ? s : m),
      null as null | {path: string; state: any}
    )
  const a = newest(dirA)
  const b = newest(dirB)
  expect(a, `no checkpoint under ${dirA}`).to.not.equal(null)
  expect(b, `no checkpoint under ${dirB}`).to.not.equal(null)
  expect(b!.state.step, `${b!.path}: step`).to.equal(a!.state.step)
  // per-step records: dit keeps state.history[], train-visual state.history.steps[] (and
  // .epochs[]), align-text state.epochs[]
  const records = (state: any): Record<string, Array<{step: number}>> => {
    const out: Record<string, Array<{step: number}>> = {}
    const put = (key: string, v: unknown) => {
      if (Array.isArray(v) && v.length && typeof v[0]?.step === 'number') out[key] = v
    }
    put('history', state.history)
    put('epochs', state.epochs) // align-text
    put('history.steps', state.history?.steps)
    put('history.epochs', state.history?.epochs)
    return out
  }
  const ra = records(a!.state)
  const rb = records(b!.state)
  expect(Object.keys(rb), `${b!.path}: per-step records`).to.deep.equal(Object.keys(ra))
  for (const [key, h] of Object.entries(rb)) {
    const steps = h.map(e => e.step)
    expect(new Set(steps).size, `${b!.path}: ${key} repeats a step`).to.equal(steps.length)
    expect(steps, `${b!.path}: ${key} steps`).to.deep.equal(ra[key].map(e => e.step))
  }
}

/** A killed child: died by SIGKILL (not a clean exit), with no medgen error line. */
export function expectKilled(r: RunResult, what: string): void {
  expect(r.signal, `${what}: expected SIGKILL, got exit ${r.code}\n${r.stderr.slice(-1500)}`).to.equal('SIGKILL')
  expect(
    medgenLines(r.stderr).filter(l => /error|Error/.test(l)),
    what
  ).to.deep.equal([])
}
