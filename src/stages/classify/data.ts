// The images classify trains and tests on: the real dataset's train/val/test split (src/data:
// loadDataset + ensureSplit, the same split every stage uses) and the generated samples
// (samples/manifest.jsonl), decoded at data.imageSize into in-memory sets.
import {join} from 'node:path'
import type {MedgenConfig} from '../../config/schema.js'
import {UserError} from '../../errors.js'
import {loadDataset} from '../../data/dataset.js'
import {ensureSplit, splitOptionsOf} from '../../data/split.js'
import {decodeImage} from '../../data/image-io.js'
import {readSampleLines} from '../generate/records.js'
import {progress} from '../../util/progress.js'
import {Rng, deriveSeed} from '../../util/rng.js'
import type {LabeledSet} from './batches.js'
import {datasetPathOf, runLayout} from '../../run/layout.js'

export interface LabeledFile {
  id: string
  path: string
  className: string
}

export interface RealSplits {
  classes: string[]
  files: Record<'train' | 'val' | 'test', LabeledFile[]>
}

/** HAM10000's class order is alphabetical too (akiec, bcc, bkl, df, mel, nv, vasc). */
export function classOrder(names: Iterable<string>): string[] {
  return [...new Set(names)].sort()
}

export async function realSplits(config: MedgenConfig, runDir: string): Promise<RealSplits> {
  const datasetPath = datasetPathOf(config)
  const dataset = await loadDataset(datasetPath, {layout: config.data.layout})
  const split = await ensureSplit(runDir, dataset, splitOptionsOf(config))
  const files: RealSplits['files'] = {train: [], val: [], test: []}
  for (const r of dataset.records) {
    const s = (split.assignments[r.id] ?? 'train') as 'train' | 'val' | 'test'
    files[s].push({id: r.id, path: r.image, className: r.className})
  }
  return {classes: dataset.classes.length ? dataset.classes : classOrder(dataset.records.map(r => r.className)), files}
}

/** Generated images from samples/manifest.jsonl whose class is one of `classes`. */
export async function syntheticFiles(runDir: string, classes: string[]): Promise<LabeledFile[]> {
  const records = await readSampleLines(runLayout(runDir).samples.manifest)
  const byId = new Map<string, LabeledFile>()
  for (const r of records)
    if (classes.includes(r.class)) byId.set(r.id, {id: r.id, path: join(runDir, r.file), className: r.class})
  return [...byId.values()]
}

/** Decodes files at size x size (fill resize, as the other stages' data.imageSize). */
export async function decodeSet(
  files: LabeledFile[],
  classes: string[],
  size: number,
  label: string
): Promise<LabeledSet> {
  const px = size * size * 3
  const images = new Float32Array(files.length * px)
  const labels = new Int32Array(files.length)
  const bar = progress(`decode ${label}`, files.length)
  const concurrency = 8
  for (let start = 0; start < files.length; start += concurrency) {
    const chunk = files.slice(start, start + concurrency)
    const decoded = await Promise.all(chunk.map(f => decodeImage(f.path, {width: size, height: size})))
    decoded.forEach((d, k) => {
      images.set(d.data, (start + k) * px)
      const c = classes.indexOf(chunk[k].className)
      if (c < 0)
        throw new UserError(`${chunk[k].path}: class ${chunk[k].className} is not one of ${classes.join(', ')}`)
      labels[start + k] = c
    })
    bar.tick(chunk.length)
  }
  bar.stop()
  return {images, size, labels, ids: files.map(f => f.id)}
}

/**
 * Synthetic images added for real+synthetic: round(ratio x n_real_train) drawn without
 * replacement (seeded), keeping each class's share of the generated pool. Returns the chosen
 * files and the per-class counts to record.
 */
export function chooseSynthetic(
  pool: LabeledFile[],
  count: number,
  seed: number
): {chosen: LabeledFile[]; perClass: Record<string, number>} {
  const rng = new Rng(deriveSeed(seed, 'synthetic-mix'))
  const order = rng.permutation(pool.length)
  const chosen = order.slice(0, Math.min(count, pool.length)).map(i => pool[i])
  const perClass: Record<string, number> = {}
  for (const f of chosen) perClass[f.className] = (perClass[f.className] ?? 0) + 1
  return {chosen, perClass}
}
