import {expect} from 'chai'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {ensureSplit, makeSplit, recordsOf} from '../../src/data/split.js'
import type {DatasetRecord} from '../../src/data/dataset.js'
import {UserError} from '../../src/errors.js'
import {tmpDir} from '../helpers/tmp.js'

/** HAM-like records: 1..3 images per lesion, imbalanced classes. */
function hamLike(nLesions: number): DatasetRecord[] {
  const out: DatasetRecord[] = []
  const classes = ['nv', 'nv', 'nv', 'nv', 'nv', 'nv', 'mel', 'bkl', 'bcc']
  let img = 0
  for (let l = 0; l < nLesions; l++) {
    const cls = classes[(l * 7) % classes.length]
    for (let k = 0; k < 1 + ((l * 13) % 3); k++) {
      const id = `ISIC_${String(img++).padStart(7, '0')}`
      out.push({id, image: `/x/${id}.jpg`, file: `${id}.jpg`, mask: null, masks: [], className: cls, group: `HAM_${l}`})
    }
  }
  return out
}

const opts = {seed: 42, testFraction: 0.2, valFraction: 0.1}

describe('data: splits', () => {
  it('never puts one lesion_id on two sides', () => {
    const records = hamLike(300)
    const split = makeSplit(records, opts)
    const sides = new Map<string, Set<string>>()
    for (const r of records) {
      const s = sides.get(r.group) ?? new Set()
      s.add(split.assignments[r.id])
      sides.set(r.group, s)
    }
    expect([...sides.values()].every(s => s.size === 1)).to.equal(true)
    expect(Object.keys(split.assignments)).to.have.length(records.length)
  })

  it('is stratified by class: about 20% test and 10% of train as val in every class', () => {
    const records = hamLike(400)
    const split = makeSplit(records, opts)
    for (const cls of ['nv', 'mel', 'bkl', 'bcc']) {
      const of = records.filter(r => r.className === cls)
      const test = of.filter(r => split.assignments[r.id] === 'test').length / of.length
      const val =
        of.filter(r => split.assignments[r.id] === 'val').length /
        of.filter(r => split.assignments[r.id] !== 'test').length
      expect(test, `${cls} test share`).to.be.within(0.17, 0.23)
      expect(val, `${cls} val share`).to.be.within(0.07, 0.13)
    }
  })

  it('is the same for the same seed and different for another seed', () => {
    const records = hamLike(200)
    const a = makeSplit(records, opts),
      b = makeSplit([...records].reverse(), opts)
    expect(b.assignments).to.deep.equal(a.assignments)
    expect(b.hash).to.equal(a.hash)
    const c = makeSplit(records, {...opts, seed: 7})
    expect(c.hash).not.to.equal(a.hash)
  })

  it('writes split.json once and reuses it; refuses a changed dataset or seed', async () => {
    const run = tmpDir()
    const records = hamLike(60)
    const first = await ensureSplit(run, {records}, opts)
    const onDisk = JSON.parse(await fs.readFile(join(run, 'split.json'), 'utf8'))
    expect(onDisk).to.deep.equal(JSON.parse(JSON.stringify(first)))
    expect(Object.keys(onDisk).sort()).to.deep.equal(['assignments', 'hash', 'seed', 'testFraction', 'valFraction'])
    const mtime = (await fs.stat(join(run, 'split.json'))).mtimeMs
    const again = await ensureSplit(run, {records: records.slice(0, 30)}, opts) // a subset is still covered
    expect(again.hash).to.equal(first.hash)
    expect((await fs.stat(join(run, 'split.json'))).mtimeMs).to.equal(mtime)
    const grown = [...records, {...records[0], id: 'ISIC_new', group: 'HAM_new'}]
    try {
      await ensureSplit(run, {records: grown}, opts)
      expect.fail('should reject')
    } catch (err) {
      expect(err).to.be.instanceOf(UserError)
      expect((err as Error).message).to.match(/split\.json: does not cover 1 image .*ISIC_new.*dataset changed/)
    }
    try {
      await ensureSplit(run, {records}, {...opts, seed: 1})
      expect.fail('should reject')
    } catch (err) {
      expect((err as Error).message).to.match(/made with seed=42, the config now says 1/)
    }
    expect(recordsOf(records, first, 'test').length + recordsOf(records, first, ['train', 'val']).length).to.equal(
      records.length
    )
  })
})
