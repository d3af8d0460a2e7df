// The measured captioner end to end on `medgen synth` output (the real layouts, read back by
// the layout readers, through the whole caption stage): it must agree with attributes.jsonl
// on >= 90% of images for every attribute (issue 4), and write the same record fields as the
// VLM path; no mask -> anatomy "unknown", said so in the record.
import {expect} from 'chai'
import {join} from 'node:path'
import {mkdirSync, writeFileSync} from 'node:fs'
import sharp from 'sharp'
import {tmpDir} from '../helpers/tmp.js'
import {drawSample} from '../../src/data/synth/sample.js'
import {synthesize} from '../../src/data/synth/write.js'
import {loadConfig} from '../../src/config/load.js'
import {runCaption} from '../../src/stages/caption.js'
import {readJsonl} from '../../src/io/atomic.js'
import type {CaptionRecord} from '../../src/caption/records.js'
import {UserError} from '../../src/errors.js'
import {MeasuredCaptioner} from '../../src/caption/captioner-measured.js'
import {CaptionStore} from '../../src/stages/caption/store.js'
import {captionAll} from '../../src/stages/caption/runner.js'
import {renderCaption} from '../../src/caption/vocab.js'
import {attributeNamesOf, type DatasetKind} from '../../src/data/attributes.js'
import type {CaptionItem} from '../../src/caption/captioner.js'

async function writeSynth(root: string, kind: DatasetKind, n: number, size: number) {
  const items: CaptionItem[] = []
  const truth = new Map<string, Record<string, string>>()
  for (let k = 0; k < n; k++) {
    const s = drawSample(kind, 1000 + k, size)
    const id = `s${String(k).padStart(4, '0')}`
    mkdirSync(join(root, s.className), {recursive: true})
    const image = join(root, s.className, `${id}.png`)
    const mask = join(root, s.className, `${id}_mask.png`)
    await sharp(Buffer.from(s.rgb), {raw: {width: size, height: size, channels: 3}})
      .png()
      .toFile(image)
    await sharp(Buffer.from(s.mask.map(v => (v ? 255 : 0))), {raw: {width: size, height: size, channels: 1}})
      .png()
      .toFile(mask)
    items.push({id, image, masks: [mask], className: s.className, split: 'train', file: `${s.className}/${id}.png`})
    truth.set(id, s.attributes)
  }
  return {items, truth}
}

describe('caption: measured captioner on synthetic data', function () {
  this.timeout(120000)
  // No progress lines in the test output; restored for other areas' tests in this process.
  let quietBefore: string | undefined
  before(() => {
    quietBefore = process.env.MEDGEN_QUIET
    process.env.MEDGEN_QUIET = '1'
  })
  after(() => {
    if (quietBefore === undefined) delete process.env.MEDGEN_QUIET
    else process.env.MEDGEN_QUIET = quietBefore
  })
  const counts: Record<DatasetKind, number> = {dermoscopy: 150, polyp: 80, ultrasound: 80}
  for (const kind of ['dermoscopy', 'polyp', 'ultrasound'] as DatasetKind[]) {
    it(`${kind}: on \`medgen synth\` data (its real layout, JPEG where the real one is) agrees with attributes.jsonl on >= 90% of images for every attribute`, async () => {
      const dir = tmpDir()
      const data = join(dir, 'data')
      await synthesize({kind, n: counts[kind], size: 64, out: data, seed: 11})
      const config = loadConfig({
        overrides: {'run.dir': join(dir, 'run'), 'data.path': data, 'caption.captioner': 'measured'}
      })
      await runCaption(config)
      const rows = await readJsonl<CaptionRecord>(join(dir, 'run', 'captions', 'captions.jsonl'))
      const truth = new Map(
        (await readJsonl<{id: string; attributes: Record<string, string>}>(join(data, 'attributes.jsonl'))).map(t => [
          t.id,
          t.attributes
        ])
      )
      expect(rows).to.have.length(counts[kind])
      expect(rows.every(r => truth.has(r.id))).to.equal(true)
      const rates = attributeNamesOf(kind).map(name => ({
        name,
        rate: rows.filter(r => r.attributes![name] === truth.get(r.id)![name]).length / rows.length
      }))
      console.log(
        `      ${kind} (${rows.length} images) agreement: ${rates.map(r => `${r.name} ${(100 * r.rate).toFixed(1)}%`).join(', ')}`
      )
      for (const {name, rate} of rates) expect(rate, `${kind} ${name}`).to.be.at.least(0.9)
      const r = rows[0]
      const expected = renderCaption(kind, r.class, r.attributes!)
      expect(r).to.deep.include({
        source: 'measured',
        anatomy: expected.anatomy,
        style: expected.style,
        caption: expected.caption
      })
      expect(r.unknown).to.equal(undefined)
    })
  }

  it('without a mask the anatomy attributes are "unknown", left out of the caption and listed in the record', async () => {
    const dir = tmpDir()
    const {items} = await writeSynth(join(dir, 'data'), 'dermoscopy', 3, 64)
    const store = new CaptionStore(join(dir, 'captions.jsonl'), join(dir, 'failures.jsonl'), join(dir, '.state'))
    await captionAll({
      items: items.map(i => ({...i, masks: []})),
      captioner: new MeasuredCaptioner('dermoscopy'),
      store,
      configHash: 'm',
      resume: true,
      concurrency: 1,
      label: 'caption',
      stopController: new AbortController()
    })
    for (const r of await store.readCaptions()) {
      expect(r.unknown).to.deep.equal(['shape', 'border', 'symmetry', 'size'])
      for (const name of r.unknown!) expect(r.attributes![name]).to.equal('unknown')
      expect(r.caption).to.equal(renderCaption('dermoscopy', r.class, r.attributes!).caption)
      expect(r.caption).to.match(/^A dermoscopic image of \w+\. Anatomy: .*\. Style: .+\.$/)
    }
  })

  it('a corrupt image stops the run with a one-line error naming it, or (data.onCorrupt: skip) becomes a recorded failure', async () => {
    const dir = tmpDir()
    const {items} = await writeSynth(join(dir, 'data'), 'dermoscopy', 4, 64)
    writeFileSync(items[2].image, Buffer.from('not a png at all'))
    const run = async (onCorrupt: 'error' | 'skip') => {
      const store = new CaptionStore(
        join(dir, onCorrupt, 'captions.jsonl'),
        join(dir, onCorrupt, 'failures.jsonl'),
        join(dir, onCorrupt, '.state')
      )
      const result = await captionAll({
        items,
        captioner: new MeasuredCaptioner('dermoscopy', onCorrupt),
        store,
        configHash: 'm',
        resume: true,
        concurrency: 1,
        label: 'caption',
        stopController: new AbortController()
      }).then(
        r => r,
        e => e
      )
      return {result, store}
    }
    const stopped = await run('error')
    expect(stopped.result).to.be.instanceOf(UserError)
    expect(stopped.result.message).to.match(
      new RegExp(
        `^${items[2].image}: corrupt or unreadable image \\(.*\\); fix or remove it, or set data.onCorrupt=skip$`
      )
    )
    expect((await stopped.store.readCaptions()).map(r => r.id)).to.deep.equal([items[0].id, items[1].id]) // what was done is kept
    const skipped = await run('skip')
    expect(skipped.result).to.deep.include({captioned: 3, failed: 1})
    const failures = await skipped.store.readFailures()
    expect(failures.map(f => f.id)).to.deep.equal([items[2].id])
    expect(failures[0].reason).to.include('corrupt or unreadable image')
  })
})
