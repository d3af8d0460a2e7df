import {expect} from 'chai'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import {BatchLoader, type Batch} from '../../src/data/batches.js'
import {loadDataset} from '../../src/data/dataset.js'
import {synthesize} from '../../src/data/synth/write.js'
import {sha256} from '../../src/io/atomic.js'
import {UserError} from '../../src/errors.js'
import {tmpDir} from '../helpers/tmp.js'
import {truncate} from './fixtures.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const digest = (b: Batch) =>
  `${b.ids.join(',')}|${sha256(new Uint8Array(b.images.buffer))}|${sha256(new Uint8Array(b.masks.buffer))}`

async function dataset(n: number) {
  const out = join(tmpDir(), 'data')
  await synthesize({kind: 'ultrasound', n, size: 32, out, seed: 4})
  return loadDataset(out)
}

describe('data: streaming batches', () => {
  it('yields NHWC images, masks and labels; every image once per epoch, reshuffled per epoch', async () => {
    const ds = await dataset(20)
    const loader = new BatchLoader(ds.records, {size: 24, batchSize: 6, seed: 1, classes: ds.classes})
    const epochs: string[][] = []
    let batches = 0
    for await (const b of loader.batches({epochs: 2})) {
      batches++
      expect(b.images.length).to.equal(b.count * 24 * 24 * 3)
      expect(b.masks.length).to.equal(b.count * 24 * 24)
      expect(b.images.every(v => v >= 0 && v <= 1)).to.equal(true)
      for (let i = 0; i < b.count; i++)
        expect(ds.classes[b.labels[i]]).to.equal(ds.records.find(r => r.id === b.ids[i])!.className)
      ;(epochs[b.epoch] ??= []).push(...b.ids)
    }
    expect(batches).to.equal(8) // 6+6+6+2 per epoch
    expect(epochs[0].slice().sort()).to.deep.equal(ds.records.map(r => r.id).sort())
    expect(epochs[1].slice().sort()).to.deep.equal(epochs[0].slice().sort())
    expect(epochs[1]).not.to.deep.equal(epochs[0])
    expect(loader.getState()).to.deep.equal({seed: 1, epoch: 2, position: 0})
  })

  it('resumes exactly: same order and same augmented pixels after restoring the saved state', async () => {
    const ds = await dataset(14)
    const opts = {size: 24, batchSize: 4, seed: 3, augment: {flip: true, crop: 0.8}, cacheDir: join(tmpDir(), 'cache')}
    const straight: string[] = []
    for await (const b of new BatchLoader(ds.records, opts).batches({maxBatches: 10})) straight.push(digest(b))
    const first = new BatchLoader(ds.records, opts)
    const resumed: string[] = []
    let saved = null
    for await (const b of first.batches({maxBatches: 10})) {
      resumed.push(digest(b))
      if (resumed.length === 5) {
        saved = JSON.parse(JSON.stringify(b.state))
        break
      } // "killed" mid-epoch, prefetch discarded
    }
    expect(first.getState()).to.deep.equal(saved)
    const second = new BatchLoader(ds.records, opts)
    second.setState(saved)
    for await (const b of second.batches({maxBatches: 5})) resumed.push(digest(b))
    expect(resumed).to.deep.equal(straight)
    expect(new Set(straight).size).to.equal(straight.length)
    expect(() => new BatchLoader(ds.records, {...opts, seed: 4}).setState(saved)).to.throw(
      UserError,
      /seed 3, this run uses 4/
    )
  })

  it('keeps memory flat over 50 epochs (prefetch and decodes bounded, cache on)', async function () {
    this.timeout(120000)
    const ds = await dataset(16)
    const loader = new BatchLoader(ds.records, {
      size: 32,
      batchSize: 4,
      seed: 2,
      augment: {flip: true},
      cacheDir: join(tmpDir(), 'cache'),
      prefetch: 3,
      concurrency: 4
    })
    const heap: number[] = [],
      rss: number[] = []
    let checksum = 0
    for await (const b of loader.batches({epochs: 50})) {
      checksum += b.images[0]
      if (b.state.position === 0) {
        // end of an epoch
        gc()
        heap.push(process.memoryUsage().heapUsed)
        rss.push(process.memoryUsage().rss)
      }
    }
    expect(heap).to.have.length(50)
    expect(Number.isFinite(checksum)).to.equal(true)
    const mb = (x: number) => x / 2 ** 20
    const heapGrowth = mb(heap[49] - heap[4]),
      rssGrowth = mb(rss[49] - rss[4])
    console.log(
      `      batches: heapUsed epoch 5 ${mb(heap[4]).toFixed(1)} MB -> epoch 50 ${mb(heap[49]).toFixed(1)} MB; rss growth ${rssGrowth.toFixed(1)} MB`
    )
    expect(heapGrowth).to.be.below(4)
    expect(rssGrowth).to.be.below(48)
  })

  it('uses the on-disk cache on the second pass and rebuilds a damaged entry', async () => {
    const ds = await dataset(6)
    const cacheDir = join(tmpDir(), 'cache')
    const opts = {size: 16, batchSize: 3, seed: 1, shuffle: false, cacheDir}
    const a: string[] = []
    for await (const b of new BatchLoader(ds.records, opts).batches({epochs: 1})) a.push(digest(b))
    const entries = (await fs.readdir(cacheDir, {recursive: true})).filter(f => String(f).endsWith('.bin'))
    expect(entries).to.have.length(6)
    await fs.writeFile(join(cacheDir, String(entries[0])), 'torn')
    const b2: string[] = []
    for await (const b of new BatchLoader(ds.records, opts).batches({epochs: 1})) b2.push(digest(b))
    expect(b2).to.deep.equal(a)
  })

  it('a corrupt image stops the loader with its name, or is skipped and reported', async () => {
    const ds = await dataset(8)
    const victim = ds.records[2]
    await truncate(victim.image)
    const opts = {size: 16, batchSize: 4, seed: 1, shuffle: false}
    try {
      for await (const _ of new BatchLoader(ds.records, opts).batches({epochs: 1})) {
        /* drain */
      }
      expect.fail('should stop')
    } catch (err) {
      expect(err).to.be.instanceOf(UserError)
      expect((err as Error).message).to.include(`${victim.image}: corrupt or unreadable image`)
    }
    const loader = new BatchLoader(ds.records, {...opts, onCorrupt: 'skip'})
    const ids: string[] = []
    for await (const b of loader.batches({epochs: 1})) ids.push(...b.ids)
    expect(ids).to.have.length(7)
    expect(ids).not.to.include(victim.id)
    expect(loader.skipped.map(s => s.id)).to.deep.equal([victim.id])
  })
})
