import {expect} from 'chai'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {synthesize} from '../../src/data/synth/write.js'
import {drawSample, renderParams} from '../../src/data/synth/sample.js'
import {loadDataset, loadMask} from '../../src/data/dataset.js'
import {readCsvTable} from '../../src/data/layouts/common.js'
import {readJsonl} from '../../src/io/atomic.js'
import {attributeGroups, attributeNamesOf, classesOf, type DatasetKind} from '../../src/data/attributes.js'
import {UserError} from '../../src/errors.js'
import {tmpDir} from '../helpers/tmp.js'

interface Truth {
  id: string
  file: string
  masks: string[]
  class: string
  lesionId?: string
  attributes: Record<string, string>
  params: unknown
}

const expected: Record<DatasetKind, {layout: string; files: string[]}> = {
  dermoscopy: {
    layout: 'ham10000',
    files: [
      'HAM10000_images_part_1',
      'HAM10000_images_part_2',
      'HAM10000_metadata.csv',
      'HAM10000_segmentations_lesion_tschandl',
      'attributes.jsonl'
    ]
  },
  polyp: {layout: 'kvasir-seg', files: ['attributes.jsonl', 'images', 'masks']},
  ultrasound: {layout: 'busi', files: ['attributes.jsonl', 'benign', 'malignant', 'normal']}
}

describe('data: medgen synth', () => {
  for (const kind of ['dermoscopy', 'polyp', 'ultrasound'] as DatasetKind[]) {
    it(`${kind}: written in the ${expected[kind].layout} layout and read back by its reader`, async () => {
      const out = join(tmpDir(), kind)
      const n = kind === 'ultrasound' ? 60 : 40
      const result = await synthesize({kind, n, size: 32, out, seed: 5})
      expect(result.count).to.equal(n)
      expect((await fs.readdir(out)).sort()).to.deep.equal(expected[kind].files)
      const ds = await loadDataset(out)
      expect(ds.layout).to.equal(expected[kind].layout)
      expect(ds.kind).to.equal(kind)
      const truth = await readJsonl<Truth>(join(out, 'attributes.jsonl'))
      expect(truth).to.have.length(n)
      expect(ds.records.map(r => r.id).sort()).to.deep.equal(truth.map(t => t.id).sort())
      const byId = new Map(ds.records.map(r => [r.id, r]))
      for (const t of truth) {
        const r = byId.get(t.id)!
        expect(r.className).to.equal(t.class)
        expect(r.file).to.equal(t.file)
        expect(classesOf(kind)).to.include(t.class)
        for (const a of attributeNamesOf(kind)) {
          const allowed = (attributeGroups[kind].anatomy[a] ?? attributeGroups[kind].style[a]) as readonly string[]
          expect(allowed, `${t.id} ${a}`).to.include(t.attributes[a])
        }
      }
      expect(ds.missingMasks).to.deep.equal([])
      // the mask read back (union of its files) is the mask that was drawn
      for (const t of truth.slice(0, 12).concat(truth.filter(x => x.masks.length > 1))) {
        const drawn = renderParams(kind, t.params, 32).mask
        const read = await loadMask(byId.get(t.id)!)
        const diff = drawn.reduce((s, v, i) => s + (v !== read![i] ? 1 : 0), 0)
        expect(diff, `${t.id} mask pixels differing`).to.be.at.most(kind === 'polyp' ? 6 : 0) // Kvasir masks are JPEGs
      }
      if (kind === 'dermoscopy') {
        const rows = await readCsvTable(join(out, 'HAM10000_metadata.csv'), [
          'lesion_id',
          'image_id',
          'dx',
          'dx_type',
          'age',
          'sex',
          'localization'
        ])
        expect(rows).to.have.length(n)
        const perLesion = new Map<string, number>()
        for (const r of ds.records) perLesion.set(r.group, (perLesion.get(r.group) ?? 0) + 1)
        expect(
          [...perLesion.values()].some(v => v === 2),
          'some lesion has two images'
        ).to.equal(true)
        expect(Math.max(...perLesion.values())).to.equal(2)
        const pairs = truth.filter(t => truth.filter(u => u.lesionId === t.lesionId).length === 2)
        expect(pairs[0].attributes).to.deep.equal(pairs[1].attributes)
      }
      if (kind === 'ultrasound') {
        for (const r of ds.records.filter(x => x.className === 'normal'))
          expect((await loadMask(r))!.every(v => v === 0)).to.equal(true)
        expect(
          truth.some(t => t.masks.length === 2),
          'some BUSI case has _mask_1.png'
        ).to.equal(true)
      }
    })
  }

  it('is deterministic for a seed and differs across seeds', async () => {
    const dir = tmpDir()
    await synthesize({kind: 'dermoscopy', n: 12, size: 32, out: join(dir, 'a'), seed: 9})
    await synthesize({kind: 'dermoscopy', n: 12, size: 32, out: join(dir, 'b'), seed: 9})
    await synthesize({kind: 'dermoscopy', n: 12, size: 32, out: join(dir, 'c'), seed: 10})
    const read = (d: string, f: string) => fs.readFile(join(dir, d, f))
    expect((await read('a', 'attributes.jsonl')).equals(await read('b', 'attributes.jsonl'))).to.equal(true)
    expect((await read('a', 'HAM10000_metadata.csv')).equals(await read('b', 'HAM10000_metadata.csv'))).to.equal(true)
    const img = 'HAM10000_images_part_1/ISIC_0024306.jpg'
    expect((await read('a', img)).equals(await read('b', img))).to.equal(true)
    expect((await read('a', 'attributes.jsonl')).equals(await read('c', 'attributes.jsonl'))).to.equal(false)
  })

  it('placement `centred` keeps every lesion near the centre and changes nothing else about a seed', () => {
    const centroid = (mask: Uint8Array, size: number) => {
      let sx = 0,
        sy = 0,
        c = 0
      for (let i = 0; i < mask.length; i++)
        if (mask[i]) {
          sx += i % size
          sy += Math.floor(i / size)
          c++
        }
      return [sx / c / size - 0.5, sy / c / size - 0.5]
    }
    let farAnywhere = 0
    for (const kind of ['dermoscopy', 'polyp'] as DatasetKind[]) {
      for (let seed = 0; seed < 30; seed++) {
        const free = drawSample(kind, seed, 48)
        const centred = drawSample(kind, seed, 48, 'centred')
        expect(centred.attributes).to.deep.equal(free.attributes)
        expect(centred.className).to.equal(free.className)
        const [dx, dy] = centroid(centred.mask, 48)
        // jitter 0.05 of the side; the mask centroid of an asymmetric outline sits a little off its centre
        expect(Math.hypot(dx, dy), `${kind} seed ${seed}`).to.be.below(0.12)
        const [fx, fy] = centroid(free.mask, 48)
        if (Math.hypot(fx, fy) > 0.15) farAnywhere++
      }
    }
    expect(farAnywhere, 'anywhere places some lesions well off centre').to.be.above(5)
  })

  it('placement `centred-aligned` lays every outline with its major axis horizontal and keeps the centred sample otherwise', () => {
    // second moments of the mask: the major axis of an oval lies along x when its x variance is the larger
    const moments = (mask: Uint8Array, size: number) => {
      let c = 0,
        mx = 0,
        my = 0
      for (let i = 0; i < mask.length; i++)
        if (mask[i]) {
          mx += i % size
          my += Math.floor(i / size)
          c++
        }
      mx /= c
      my /= c
      let xx = 0,
        yy = 0,
        xy = 0
      for (let i = 0; i < mask.length; i++)
        if (mask[i]) {
          const dx = (i % size) - mx,
            dy = Math.floor(i / size) - my
          xx += dx * dx
          yy += dy * dy
          xy += dx * dy
        }
      return {xx: xx / c, yy: yy / c, xy: xy / c}
    }
    let ovals = 0,
      verticalWhenRotated = 0
    for (let seed = 0; seed < 60; seed++) {
      const centred = drawSample('dermoscopy', seed, 64, 'centred')
      const aligned = drawSample('dermoscopy', seed, 64, 'centred-aligned')
      expect(aligned.attributes).to.deep.equal(centred.attributes)
      if (aligned.attributes.shape !== 'oval') continue
      ovals++
      const a = moments(aligned.mask, 64),
        r = moments(centred.mask, 64)
      expect(a.xx, `seed ${seed}`).to.be.greaterThan(1.5 * a.yy)
      if (r.yy > r.xx) verticalWhenRotated++
    }
    expect(ovals).to.be.above(5)
    expect(verticalWhenRotated, 'centred keeps random orientations').to.be.above(0)
  })

  it('replaces its own earlier output but never a foreign non-empty folder', async () => {
    const dir = tmpDir()
    const out = join(dir, 'data')
    await synthesize({kind: 'polyp', n: 5, size: 32, out, seed: 1})
    await synthesize({kind: 'polyp', n: 3, size: 32, out, seed: 2})
    expect(await fs.readdir(join(out, 'images'))).to.have.length(3)
    expect((await fs.readdir(dir)).filter(f => f.startsWith('.'))).to.deep.equal([]) // no temp folders left
    const foreign = join(dir, 'mine')
    await fs.mkdir(foreign)
    await fs.writeFile(join(foreign, 'thesis.tex'), 'x')
    try {
      await synthesize({kind: 'polyp', n: 2, size: 32, out: foreign, seed: 1})
      expect.fail('should refuse')
    } catch (err) {
      expect(err).to.be.instanceOf(UserError)
      expect((err as Error).message).to.match(/mine: exists, is not empty and was not written by medgen synth/)
    }
    expect(await fs.readdir(foreign)).to.deep.equal(['thesis.tex'])
  })

  it('`medgen synth` writes the dataset and a stage manifest, and skips an up-to-date rerun', async () => {
    const {default: Synth} = await import('../../src/commands/synth.js')
    const dir = tmpDir()
    const out = join(dir, 'busi'),
      run = join(dir, 'run')
    const argv = ['--kind', 'ultrasound', '--n', '10', '--size', '32', '--out', out, '--run-dir', run, '--seed', '2']
    const quiet = process.env.MEDGEN_QUIET
    process.env.MEDGEN_QUIET = '1'
    try {
      await Synth.run(argv, new URL('../../', import.meta.url).pathname)
      const manifest = JSON.parse(await fs.readFile(join(run, 'synth', 'manifest.json'), 'utf8'))
      expect(manifest.status).to.equal('complete')
      expect(manifest.config.stage).to.include({kind: 'ultrasound', n: 10, size: 32})
      expect(Object.keys(manifest.outputs)).to.deep.equal([out])
      expect((await loadDataset(out)).records).to.have.length(10)
      const before = (await fs.stat(join(out, 'attributes.jsonl'))).mtimeMs
      await Synth.run(argv, new URL('../../', import.meta.url).pathname)
      expect((await fs.stat(join(out, 'attributes.jsonl'))).mtimeMs).to.equal(before)
    } finally {
      if (quiet === undefined) delete process.env.MEDGEN_QUIET
      else process.env.MEDGEN_QUIET = quiet
    }
  })

  it('is fast: 200 dermoscopy images at 64 px well within the 1,000-in-30-s budget', async function () {
    this.timeout(60000)
    const t0 = performance.now()
    await synthesize({kind: 'dermoscopy', n: 200, size: 64, out: join(tmpDir(), 'speed'), seed: 3})
    const seconds = (performance.now() - t0) / 1000
    console.log(`      synth: 200 dermoscopy images at 64 px in ${seconds.toFixed(2)} s`)
    expect(seconds).to.be.below(6)
  })
})
