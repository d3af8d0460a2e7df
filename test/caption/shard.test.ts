// Sharding: --shard i/n and auto pick deterministic disjoint slices that cover every image;
// `medgen merge captions` refuses missing, incomplete, mismatched or overlapping parts.
import {expect} from 'chai'
import {join} from 'node:path'
import {promises as fs} from 'node:fs'
import {tmpDir} from '../helpers/tmp.js'
import {inShard, parseShard, partName, shardOfId} from '../../src/util/shard.js'
import {mergeCaptionParts} from '../../src/stages/caption/merge.js'
import {runLayout} from '../../src/run/layout.js'
import {writeManifest, readManifest} from '../../src/stages/manifest.js'
import {readJsonl} from '../../src/io/atomic.js'
import {UserError} from '../../src/errors.js'
import type {CaptionRecord} from '../../src/caption/records.js'

const ids = Array.from({length: 200}, (_, k) => ({id: `ISIC_${String(24306 + k).padStart(7, '0')}`}))

describe('caption: shards and merge', () => {
  it('parses i/n and auto (SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN), and rejects bad specs in one line', () => {
    expect(parseShard(undefined)).to.equal(null)
    expect(parseShard('2/4')).to.deep.equal({index: 2, count: 4})
    expect(parseShard('auto', {SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4'})).to.deep.equal({
      index: 3,
      count: 4
    })
    expect(
      parseShard('auto', {SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1'})
    ).to.deep.equal({index: 3, count: 4})
    expect(() => parseShard('4/4')).to.throw(UserError, '--shard 4/4: shard index must be in 0..3')
    expect(() => parseShard('1-of-4')).to.throw(UserError, '--shard 1-of-4: expected i/n (0-based, e.g. 0/4) or auto')
    expect(() => parseShard('auto', {})).to.throw(UserError, /not inside a Slurm array job/)
  })

  it('slices are disjoint, cover every id, do not depend on listing order, and are roughly balanced', () => {
    const n = 4
    const slices = Array.from({length: n}, (_, i) => inShard(ids, {index: i, count: n}).map(x => x.id))
    const all = slices.flat()
    expect(all.length).to.equal(ids.length)
    expect(new Set(all).size).to.equal(ids.length)
    const reversed = inShard([...ids].reverse(), {index: 1, count: n}).map(x => x.id)
    expect(reversed.sort()).to.deep.equal([...slices[1]].sort())
    for (const s of slices) expect(s.length).to.be.within(30, 70)
  })

  async function writePart(
    runDir: string,
    index: number,
    count: number,
    rows: {id: string}[],
    opts: {status?: 'complete' | 'running'; configHash?: string} = {}
  ) {
    const dir = join(runDir, 'captions', 'parts')
    await fs.mkdir(dir, {recursive: true})
    const name = partName({index, count})
    await fs.writeFile(
      join(dir, `${name}.jsonl`),
      rows
        .filter((_, k) => k % 7 !== 3)
        .map(
          r =>
            JSON.stringify({
              ...r,
              file: `mel/${r.id}.jpg`,
              class: 'mel',
              split: 'train',
              attributes: {},
              anatomy: 'a',
              style: 's',
              caption: `A dermoscopic image of mel, "${r.id}", x`,
              source: 'measured'
            }) + '\n'
        )
        .join('')
    )
    await fs.writeFile(
      join(dir, `${name}.failures.jsonl`),
      rows
        .filter((_, k) => k % 7 === 3)
        .map(r => JSON.stringify({id: r.id, file: `mel/${r.id}.jpg`, reason: 'x', attempts: 4}) + '\n')
        .join('')
    )
    await writeManifest(runDir, {
      medgen: '0',
      stage: runLayout('').captions.parts.stageDir({index, count}),
      status: opts.status ?? 'complete',
      backend: null,
      seed: 1,
      config: {},
      configHash: opts.configHash ?? 'same',
      inputs: {data: 'h'},
      outputs: {},
      startedAt: '2026-01-01T00:00:00Z',
      finishedAt: null,
      seconds: 2,
      notes: {captioner: 'measured'}
    })
  }

  it('merge joins complete disjoint parts into captions.jsonl, failures.jsonl, metadata.csv and a complete manifest', async () => {
    const runDir = tmpDir()
    for (let i = 0; i < 3; i++) await writePart(runDir, i, 3, inShard(ids, {index: i, count: 3}))
    const summary = await mergeCaptionParts(runDir)
    const captions = await readJsonl<CaptionRecord>(join(runDir, 'captions', 'captions.jsonl'))
    const failures = await readJsonl<{id: string}>(join(runDir, 'captions', 'failures.jsonl'))
    expect(summary.parts).to.equal(3)
    expect(captions.length + failures.length).to.equal(ids.length)
    expect(summary).to.deep.include({captions: captions.length, failures: failures.length})
    expect(captions.map(c => c.id)).to.deep.equal(captions.map(c => c.id).sort())
    const csv = await fs.readFile(join(runDir, 'captions', 'metadata.csv'), 'utf8')
    const lines = csv.trimEnd().split('\n')
    expect(lines[0]).to.equal('file_name,text')
    expect(lines).to.have.length(captions.length + 1)
    expect(lines[1]).to.equal(`mel/${captions[0].id}.jpg,"A dermoscopic image of mel, ""${captions[0].id}"", x"`)
    const m = await readManifest(runDir, 'captions')
    expect(m).to.deep.include({status: 'complete', configHash: 'same'})
    expect(m!.notes).to.deep.include({mergedFrom: 3, captioned: captions.length, failed: failures.length})
  })

  it('merge refuses a missing part, an unfinished part, parts with different settings, and overlapping parts', async () => {
    const parts = (n: number) => Array.from({length: n}, (_, i) => inShard(ids, {index: i, count: n}))
    const expectError = async (runDir: string, pattern: RegExp) => {
      const err = await mergeCaptionParts(runDir).then(
        () => null,
        e => e
      )
      expect(err, 'merge should fail').to.be.instanceOf(UserError)
      expect(err.message).to.match(pattern)
      expect(err.message).to.not.include('\n')
      expect(
        await fs.stat(join(runDir, 'captions', 'captions.jsonl')).then(
          () => true,
          () => false
        )
      ).to.equal(false)
    }
    let runDir = tmpDir()
    await writePart(runDir, 0, 3, parts(3)[0])
    await writePart(runDir, 2, 3, parts(3)[2])
    await expectError(runDir, /missing part 1 of 3; run `medgen caption --shard 1\/3`$/)
    runDir = tmpDir()
    await writePart(runDir, 0, 2, parts(2)[0])
    await writePart(runDir, 1, 2, parts(2)[1], {status: 'running'})
    await expectError(runDir, /^part 1 of 2 is not complete .*says running\); rerun `medgen caption --shard 1\/2`$/)
    runDir = tmpDir()
    await writePart(runDir, 0, 2, parts(2)[0])
    await writePart(runDir, 1, 2, parts(2)[1], {configHash: 'other'})
    await expectError(runDir, /captioned with different settings/)
    runDir = tmpDir()
    await writePart(runDir, 0, 2, parts(2)[0])
    await writePart(runDir, 1, 2, [...parts(2)[1], parts(2)[0][0]])
    await expectError(runDir, new RegExp(`image ${parts(2)[0][0].id} is in both part 0 and part 1; the parts overlap`))
    runDir = tmpDir()
    await writePart(runDir, 0, 2, parts(2)[0])
    await writePart(runDir, 1, 2, parts(2)[1])
    await writePart(runDir, 0, 3, parts(3)[0])
    await expectError(runDir, /parts from different shard counts \(of-2, of-3\)/)
    expect(shardOfId('x', 1)).to.equal(0)
  })
})
