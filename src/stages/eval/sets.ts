// Which images eval compares: generated = eval.samples folder, else the run's samples
// (samples/manifest.jsonl); real = eval.real folder, else the dataset's eval.realSplit split
// (docs/REFERENCE.md §7: the real test split by default).
import {join, resolve} from 'node:path'
import type {MedgenConfig} from '../../config/schema.js'
import {UserError} from '../../errors.js'
import {loadDataset} from '../../data/dataset.js'
import {ensureSplit, splitOptionsOf} from '../../data/split.js'
import {pathExists} from '../../io/atomic.js'
import {readSampleLines} from '../generate/records.js'
import {listImages} from './image-folder.js'
import type {ImageSets} from './image-metrics.js'
import {datasetPathOf, runLayout} from '../../run/layout.js'

export interface ResolvedSets extends ImageSets {
  realSource: string
  genSource: string
}

export async function generatedFiles(config: MedgenConfig, runDir: string): Promise<{files: string[]; source: string}> {
  if (config.eval.samples) {
    const files = await listImages(config.eval.samples)
    return {files, source: resolve(config.eval.samples)}
  }
  const manifest = runLayout(runDir).samples.manifest
  if (!(await pathExists(manifest))) return {files: [], source: manifest}
  const byId = new Map<string, string>()
  for (const r of await readSampleLines(manifest)) byId.set(r.id, join(runDir, r.file))
  return {files: [...byId.values()], source: manifest}
}

export async function realFiles(config: MedgenConfig, runDir: string): Promise<{files: string[]; source: string}> {
  if (config.eval.real) return {files: await listImages(config.eval.real), source: resolve(config.eval.real)}
  const datasetPath = datasetPathOf(config)
  const dataset = await loadDataset(datasetPath, {layout: config.data.layout})
  if (config.eval.realSplit === 'all') return {files: dataset.records.map(r => r.image), source: `${datasetPath} (all)`}
  const split = await ensureSplit(runDir, dataset, splitOptionsOf(config))
  const want = config.eval.realSplit
  // The train side of a split includes its validation part.
  const files = dataset.records
    .filter(r => {
      const s = split.assignments[r.id] ?? 'train'
      return want === 'test' ? s === 'test' : s !== 'test'
    })
    .map(r => r.image)
  return {files, source: `${datasetPath} (${want} split)`}
}

/** Both sides, unless precomputed feature files replace them (then images are optional). */
export async function resolveSets(config: MedgenConfig, runDir: string): Promise<ResolvedSets> {
  const e = config.eval
  const needImages = !(e.featuresReal && e.featuresGen)
  const gen = await generatedFiles(config, runDir)
  const real =
    e.real || needImages || (!e.featuresReal && !e.featuresGen)
      ? await realFiles(config, runDir).catch(err => {
          if (needImages) throw err
          return {files: [] as string[], source: '(none)'}
        })
      : {files: [] as string[], source: '(none)'}
  if (needImages) {
    if (gen.files.length === 0)
      throw new UserError(`${gen.source}: no generated images; run \`medgen generate\` or pass --samples DIR`)
    if (real.files.length === 0) throw new UserError(`${real.source}: no real images to compare against`)
  }
  return {realFiles: real.files, genFiles: gen.files, realSource: real.source, genSource: gen.source}
}
