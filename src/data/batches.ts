// Streaming training batches: images decoded and resized in parallel (sharp is async) with a
// bounded number of decodes in flight and a fixed number of batches prefetched, so memory
// stays the same whatever the dataset size; an optional on-disk cache of resized pixels
// (src/data/cache.ts); seeded shuffling per epoch and seeded augmentation per item.
//
// Resume (docs/DESIGN.md "Reliability contract"): the order of epoch e is a permutation seeded by
// (seed, e) and the augmentation of an item by (seed, e, position), so the state
// {seed, epoch, position} alone reproduces the stream exactly. Each batch carries the state
// after it; save that in the checkpoint and `setState` it on resume.
//
// API:
//   const loader = new BatchLoader(records, {size, batchSize, seed, classes, augment, cacheDir, ...})
//   for await (const b of loader.batches({epochs: 1})) { b.images (N·S·S·3 floats in [0,1], NHWC),
//     b.masks (N·S·S, 0/1; zeros where b.hasMask[i] is 0), b.labels (class index), b.ids, b.state }
//   loader.getState() / loader.setState(state); loader.skipped lists corrupt images (onCorrupt: 'skip').
import {Rng, deriveSeed} from '../util/rng.js'
import {UserError} from '../errors.js'
import type {DatasetRecord} from './layouts/common.js'
import {CorruptImageError, decodeRgb8} from './image-io.js'
import {loadMask} from './dataset.js'
import {augmentItem, type AugmentOptions} from './augment.js'
import {cacheKey, cachePath, readCached, writeCached, type CachedItem} from './cache.js'

export interface BatchLoaderOptions {
  size: number
  batchSize: number
  seed: number
  /** label order; defaults to the sorted class names of the records */
  classes?: string[]
  shuffle?: boolean
  augment?: AugmentOptions
  /** folder for resized pixels (e.g. <run>/cache); null = no cache */
  cacheDir?: string | null
  fit?: 'fill' | 'cover'
  /** decodes in flight */
  concurrency?: number
  /** batches prepared ahead of the consumer */
  prefetch?: number
  onCorrupt?: 'error' | 'skip'
  /** leave out the last, smaller batch of each epoch */
  dropLast?: boolean
  withMasks?: boolean
}

export interface LoaderState {
  seed: number
  epoch: number
  position: number
}

export interface Batch {
  images: Float32Array
  masks: Float32Array
  hasMask: Uint8Array
  labels: Int32Array
  ids: string[]
  count: number
  size: number
  epoch: number
  /** the loader state right after this batch (what a checkpoint saves) */
  state: LoaderState
}

class Semaphore {
  private waiting: Array<() => void> = []
  private free: number
  constructor(n: number) {
    this.free = n
  }
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--
    else await new Promise<void>(resolve => this.waiting.push(resolve))
    try {
      return await fn()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.free++
    }
  }
}

export class BatchLoader {
  readonly classes: string[]
  readonly skipped: Array<{id: string; path: string; reason: string}> = []
  private epoch = 0
  private position = 0
  private readonly opts: Required<Omit<BatchLoaderOptions, 'classes' | 'cacheDir' | 'augment'>> & {
    augment: AugmentOptions
    cacheDir: string | null
  }
  private readonly decodes: Semaphore
  private readonly classIndex: Map<string, number>

  constructor(
    private readonly records: DatasetRecord[],
    options: BatchLoaderOptions
  ) {
    if (records.length === 0) throw new UserError('batch loader: no images to load')
    if (!(options.batchSize >= 1))
      throw new UserError(`batch loader: batch size ${options.batchSize} must be at least 1`)
    this.classes = options.classes ?? [...new Set(records.map(r => r.className))].sort()
    this.classIndex = new Map(this.classes.map((c, i) => [c, i]))
    this.opts = {
      size: options.size,
      batchSize: options.batchSize,
      seed: options.seed,
      shuffle: options.shuffle ?? true,
      augment: options.augment ?? {},
      cacheDir: options.cacheDir ?? null,
      fit: options.fit ?? 'fill',
      concurrency: options.concurrency ?? 4,
      prefetch: options.prefetch ?? 2,
      onCorrupt: options.onCorrupt ?? 'error',
      dropLast: options.dropLast ?? false,
      withMasks: options.withMasks ?? true
    }
    this.decodes = new Semaphore(Math.max(1, this.opts.concurrency))
  }

  get batchesPerEpoch(): number {
    const n = this.records.length,
      b = this.opts.batchSize
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b)
  }

  getState(): LoaderState {
    return {seed: this.opts.seed, epoch: this.epoch, position: this.position}
  }

  setState(state: LoaderState): void {
    if (!state || state.seed !== this.opts.seed)
      throw new UserError(
        `batch loader: checkpoint data order was made with seed ${state?.seed}, this run uses ${this.opts.seed}`
      )
    if (
      !Number.isInteger(state.epoch) ||
      !Number.isInteger(state.position) ||
      state.position < 0 ||
      state.position > this.records.length
    ) {
      throw new UserError('batch loader: invalid data-order state in checkpoint')
    }
    this.epoch = state.epoch
    this.position = state.position
  }

  /** The record order of an epoch: a seeded permutation (identity without shuffle). */
  order(epoch: number): number[] {
    const n = this.records.length
    if (!this.opts.shuffle) return Array.from({length: n}, (_, i) => i)
    return new Rng(deriveSeed(this.opts.seed, 'epoch-order', epoch)).permutation(n)
  }

  /** Batches from the current state on; `epochs` counts epoch ends, `maxBatches` caps the count. */
  async *batches(limit: {epochs?: number; maxBatches?: number} = {}): AsyncGenerator<Batch> {
    const plan = this.planner(limit)
    const queue: Array<Promise<{batch: Batch | null; after: LoaderState}>> = []
    const fill = () => {
      while (queue.length < Math.max(1, this.opts.prefetch)) {
        const next = plan.next()
        if (next.done) break
        const {epoch, start, indices, after} = next.value
        const p = this.assemble(epoch, start, indices, after).then(batch => ({batch, after}))
        p.catch(() => {}) // surfaced when awaited; never an unhandled rejection if the consumer stops early
        queue.push(p)
      }
    }
    fill()
    while (queue.length > 0) {
      const {batch, after} = await queue.shift()!
      fill()
      this.epoch = after.epoch
      this.position = after.position
      if (batch) yield batch // null: every image of the batch was corrupt and skipped
    }
  }

  private *planner(limit: {
    epochs?: number
    maxBatches?: number
  }): Generator<{epoch: number; start: number; indices: number[]; after: LoaderState}> {
    let epoch = this.epoch,
      position = this.position,
      produced = 0,
      epochsDone = 0
    const n = this.records.length,
      b = this.opts.batchSize
    while (true) {
      if (limit.maxBatches !== undefined && produced >= limit.maxBatches) return
      if (position >= n || (this.opts.dropLast && n - position < b)) {
        epoch++
        position = 0
        epochsDone++
        if (limit.epochs !== undefined && epochsDone >= limit.epochs) return
        continue
      }
      const order = this.order(epoch)
      const end = Math.min(n, position + b)
      const indices = order.slice(position, end)
      const atEnd = end >= n || (this.opts.dropLast && n - end < b)
      const after: LoaderState = atEnd
        ? {seed: this.opts.seed, epoch: epoch + 1, position: 0}
        : {seed: this.opts.seed, epoch, position: end}
      yield {epoch, start: position, indices, after}
      produced++
      position = end
    }
  }

  private async loadItem(record: DatasetRecord): Promise<CachedItem> {
    const {size, fit, cacheDir, withMasks} = this.opts
    let path: string | null = null
    if (cacheDir) {
      path = cachePath(cacheDir, await cacheKey([record.image, ...(withMasks ? record.masks : [])], size, fit))
      const hit = await readCached(path, size)
      if (hit) return hit
    }
    const img = await decodeRgb8(record.image, {width: size, height: size, fit})
    const mask = withMasks ? await loadMask(record, {width: size, height: size, fit}) : null
    const item = {rgb: img.data, mask}
    if (path) await writeCached(path, item)
    return item
  }

  private async assemble(epoch: number, start: number, indices: number[], after: LoaderState): Promise<Batch | null> {
    const {size, augment, seed} = this.opts
    const items = await Promise.all(
      indices.map((idx, k) =>
        this.decodes.use(async () => {
          const record = this.records[idx]
          try {
            const item = await this.loadItem(record)
            const rng = new Rng(deriveSeed(seed, 'augment', epoch, start + k))
            return {record, ...augmentItem(item.rgb, item.mask, size, augment, rng)}
          } catch (err) {
            if (err instanceof CorruptImageError && this.opts.onCorrupt === 'skip') {
              if (!this.skipped.some(s => s.id === record.id))
                this.skipped.push({id: record.id, path: err.path, reason: err.message})
              return null
            }
            throw err
          }
        })
      )
    )
    const ok = items.filter((x): x is NonNullable<typeof x> => x !== null)
    if (ok.length === 0) return null
    const px = size * size
    const images = new Float32Array(ok.length * px * 3),
      masks = new Float32Array(ok.length * px)
    const hasMask = new Uint8Array(ok.length),
      labels = new Int32Array(ok.length)
    ok.forEach((it, i) => {
      for (let j = 0; j < px * 3; j++) images[i * px * 3 + j] = it.rgb[j] / 255
      if (it.mask) {
        hasMask[i] = 1
        for (let j = 0; j < px; j++) masks[i * px + j] = it.mask[j]
      }
      labels[i] = this.classIndex.get(it.record.className) ?? -1
    })
    return {
      images,
      masks,
      hasMask,
      labels,
      ids: ok.map(it => it.record.id),
      count: ok.length,
      size,
      epoch,
      state: after
    }
  }
}
