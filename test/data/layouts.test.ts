import {expect} from 'chai'
import {promises as fs} from 'node:fs'
import {basename, join} from 'node:path'
import {loadDataset, loadImage, loadMask, describeMissingMasks} from '../../src/data/dataset.js'
import {UserError} from '../../src/errors.js'
import {tmpDir} from '../helpers/tmp.js'
import {busiFixture, folderFixture, hamFixture, kvasirFixture, truncate, writeImage, S} from './fixtures.js'
import {encodePng} from '../../src/io/images.js'

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<UserError> {
  try {
    await p
  } catch (err) {
    expect(err).to.be.instanceOf(UserError)
    expect((err as Error).message).to.match(pattern)
    expect((err as Error).message).not.to.include('\n')
    return err as UserError
  }
  throw new Error(`expected a rejection matching ${pattern}`)
}

const count = (m: Uint8Array | null) => (m ? m.reduce((s, v) => s + v, 0) : -1)

describe('data: layout readers', () => {
  it('reads HAM10000: both image parts, lesion groups, a missing mask reported', async () => {
    const root = await hamFixture()
    const ds = await loadDataset(root)
    expect(ds.layout).to.equal('ham10000')
    expect(ds.kind).to.equal('dermoscopy')
    expect(ds.classes).to.deep.equal(['bkl', 'mel', 'nv'])
    expect(ds.records.map(r => r.id)).to.deep.equal([
      'ISIC_0000001',
      'ISIC_0000002',
      'ISIC_0000003',
      'ISIC_0000004',
      'ISIC_0000005',
      'ISIC_0000006'
    ])
    expect(ds.records[4].file).to.equal('HAM10000_images_part_2/ISIC_0000005.jpg')
    expect(ds.records[0].group).to.equal(ds.records[1].group)
    expect(ds.records[0].group).to.equal('HAM_0000001')
    expect(ds.missingMasks).to.deep.equal(['ISIC_0000003'])
    expect(ds.records[2].mask).to.equal(null)
    expect(describeMissingMasks(ds)).to.equal('1 of 6 images have no mask (first: ISIC_0000003)')
    expect(count(await loadMask(ds.records[0]))).to.equal(64)
    const img = await loadImage(ds.records[0])
    expect([img.width, img.height, img.channels]).to.deep.equal([S, S, 3])
  })

  it('reads Kvasir-SEG with JPEG masks thresholded to 0/1', async () => {
    const ds = await loadDataset(await kvasirFixture())
    expect(ds.layout).to.equal('kvasir-seg')
    expect(ds.kind).to.equal('polyp')
    expect(ds.classes).to.deep.equal(['polyp'])
    expect(ds.records).to.have.length(3)
    const m = await loadMask(ds.records[0])
    expect(m!.every(v => v === 0 || v === 1)).to.equal(true)
    expect(count(m)).to.be.within(60, 68) // an 8×8 box, give or take JPEG ringing
  })

  it('reads BUSI and unions _mask.png with _mask_1.png; normal has an empty mask', async () => {
    const ds = await loadDataset(await busiFixture())
    expect(ds.layout).to.equal('busi')
    expect(ds.kind).to.equal('ultrasound')
    expect(ds.classes).to.deep.equal(['benign', 'malignant', 'normal'])
    const b1 = ds.records.find(r => r.id === 'benign (1)')!
    expect(b1.masks.map(m => m.split('/').pop())).to.deep.equal(['benign (1)_mask.png', 'benign (1)_mask_1.png'])
    expect(count(await loadMask(b1))).to.equal(32)
    expect(count(await loadMask(b1, 8))).to.equal(8) // resized union
    expect(count(await loadMask(ds.records.find(r => r.id === 'normal (1)')!))).to.equal(0)
    expect(ds.records.every(r => !r.masks.some(m => m === r.image))).to.equal(true)
    expect(ds.missingMasks).to.deep.equal([])
  })

  it('reads a generic <class>/<image> folder with optional masks', async () => {
    const ds = await loadDataset(await folderFixture())
    expect(ds.layout).to.equal('folder')
    expect(ds.classes).to.deep.equal(['cats', 'dogs'])
    expect(ds.records.map(r => [r.id, r.className, r.mask !== null])).to.deep.equal([
      ['a', 'cats', true],
      ['b', 'cats', false],
      ['c', 'dogs', false]
    ])
    expect(ds.missingMasks).to.deep.equal(['b', 'c'])
  })

  it('forces a layout with --layout and rejects folders that are not that layout', async () => {
    const root = await folderFixture()
    await rejects(loadDataset(root, {layout: 'busi'}), /expected benign\/, malignant\/ and normal\//)
    expect((await loadDataset(await hamFixture(), {layout: 'ham10000'})).records).to.have.length(6)
  })

  it('gives one-line errors naming the path and the problem', async () => {
    const empty = tmpDir()
    await rejects(loadDataset(empty), /no known dataset layout/)
    await rejects(loadDataset(join(empty, 'nope')), /no such file or directory/)
    const onlyFiles = tmpDir()
    await writeImage(join(onlyFiles, 'x.jpg'), 1)
    // images directly in the folder: the flat layout, one class named after the folder
    const flat = await loadDataset(onlyFiles)
    expect([flat.layout, flat.classes, flat.records.map(r => r.file)]).to.deep.equal([
      'flat',
      [basename(onlyFiles)],
      ['x.jpg']
    ])
    const emptyClass = await folderFixture()
    await fs.mkdir(join(emptyClass, 'birds'))
    await fs.writeFile(join(emptyClass, 'birds', 'notes.txt'), 'x')
    await rejects(loadDataset(emptyClass, {layout: 'folder'}), /birds: class folder with no images/)
    const noImages = tmpDir()
    await fs.mkdir(join(noImages, 'images'))
    await fs.mkdir(join(noImages, 'masks'))
    await rejects(loadDataset(noImages), /empty dataset/)
  })

  it('rejects a HAM10000 metadata file with missing columns, invalid UTF-8 or missing images', async () => {
    const a = await hamFixture()
    await fs.writeFile(join(a, 'HAM10000_metadata.csv'), 'lesion_id,image,dx\nHAM_1,ISIC_0000001,nv\n')
    await rejects(loadDataset(a), /HAM10000_metadata\.csv: missing column image_id/)
    const b = await hamFixture()
    await fs.writeFile(join(b, 'HAM10000_metadata.csv'), Buffer.from([0x6c, 0x65, 0xff, 0xfe, 0x0a]))
    await rejects(loadDataset(b), /HAM10000_metadata\.csv: not valid UTF-8/)
    const c = await hamFixture()
    await fs.rm(join(c, 'HAM10000_images_part_2'), {recursive: true})
    await rejects(loadDataset(c), /3 listed images not found .*first: ISIC_0000004/)
  })

  it('a corrupt JPEG stops with its name (onCorrupt error) or is listed and left out (skip)', async () => {
    const root = await hamFixture()
    const bad = join(root, 'HAM10000_images_part_1', 'ISIC_0000002.jpg')
    await truncate(bad)
    // listing alone does not decode
    expect((await loadDataset(root)).records).to.have.length(6)
    await rejects(loadDataset(root, {verify: true}), new RegExp(`ISIC_0000002\\.jpg: corrupt or unreadable image`))
    const ds = await loadDataset(root, {verify: true, onCorrupt: 'skip'})
    expect(ds.records.map(r => r.id)).not.to.include('ISIC_0000002')
    expect(ds.records).to.have.length(5)
    expect(ds.corrupt.map(c => c.id)).to.deep.equal(['ISIC_0000002'])
    await fs.writeFile(bad, 'not an image at all')
    await rejects(loadImage({...ds.records[0], image: bad}), /corrupt or unreadable image/)
  })

  it('resizes image and mask alike, also with fit cover (centre crop)', async () => {
    const root = tmpDir()
    const w = 40,
      h = 20
    const px = new Uint8Array(w * h * 3),
      m = new Uint8Array(w * h)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        if (x < 20) {
          px[3 * (y * w + x)] = 255
          m[y * w + x] = 255
        }
    await fs.mkdir(join(root, 'a'))
    await fs.writeFile(join(root, 'a', 'x.png'), await encodePng(px, w, h, 3))
    await fs.writeFile(join(root, 'a', 'x_mask.png'), await encodePng(m, w, h, 1))
    const [record] = (await loadDataset(root)).records
    for (const fit of ['fill', 'cover'] as const) {
      const img = await loadImage(record, {width: 10, height: 10, fit})
      const mask = (await loadMask(record, {width: 10, height: 10, fit}))!
      let agree = 0
      for (let i = 0; i < 100; i++) agree += (img.data[3 * i] > 0.5 ? 1 : 0) === mask[i] ? 1 : 0
      expect(agree, fit).to.equal(100)
      expect(count(mask), fit).to.equal(50)
    }
  })
})
