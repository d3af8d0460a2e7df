// generate plumbing with a fake DiT/text conditioner (the real ones are exercised in
// generate-e2e.test.ts): seeds and determinism, manifest fields, resume, classifier-free
// guidance batching, PNGs + contact sheets + summary, shards and merge, and the user errors.
import {existsSync, readFileSync, readdirSync, writeFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {expect} from 'chai'
import sharp from 'sharp'
import {loadConfig} from '../../src/config/load.js'
import {runStage} from '../../src/stages/stage.js'
import {generateStageFor} from '../../src/stages/generate.js'
import {generateSamples} from '../../src/stages/generate/run.js'
import {
  attributeGrid,
  buildItems,
  readPromptFile,
  resolveRequest,
  type ResolvedRequest
} from '../../src/stages/generate/items.js'
import {renderCaption} from '../../src/caption/vocab.js'
import {attributeGroups} from '../../src/data/attributes.js'
import {mergeSampleShards} from '../../src/stages/generate/merge.js'
import type {SampleRecord} from '../../src/stages/generate/records.js'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {expectUserError} from '../helpers/user-error.js'
import {fakeModels, makeRun, type FakeCalls} from './fakes.js'

function configFor(dir: string, extra: Record<string, unknown> = {}) {
  return loadConfig({
    overrides: {'run.dir': dir, 'run.seed': 7, 'generate.steps': 4, 'generate.batchSize': 3, ...extra}
  })
}

function records(dir: string, file = join(dir, 'samples', 'manifest.jsonl')): SampleRecord[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as SampleRecord)
}

const request = (r: Partial<ResolvedRequest>): ResolvedRequest => ({prompts: [], grid: false, classes: [], ...r})

describe('generate: sampling plumbing (fake DiT)', function () {
  this.timeout(60_000)
  const quiet = process.env.MEDGEN_QUIET
  before(async () => {
    await useTestBackend()
    process.env.MEDGEN_QUIET = '1'
  })
  after(() => {
    if (quiet === undefined) delete process.env.MEDGEN_QUIET
    else process.env.MEDGEN_QUIET = quiet
  })

  it('per-class: every class gets N PNGs, manifest lines carry prompt/seed/sampler/steps/guidance/seconds, contact sheets and summary are written', async () => {
    const dir = makeRun(tmpDir())
    const config = configFor(dir)
    const result = await generateSamples({
      config,
      runDir: dir,
      request: request({perClass: 2, prompts: [{prompt: 'a dark irregular lesion'}]}),
      shard: null,
      force: false,
      loadModels: fakeModels()
    })
    expect(result.generated).to.equal(5)
    const rs = records(dir)
    expect(rs.map(r => r.class).sort()).to.deep.equal(['mel', 'mel', 'nv', 'nv', 'prompt'])
    for (const r of rs) {
      expect(r).to.include({sampler: 'dpm-solver++', steps: 4, guidance: 4.5})
      expect(r.seconds).to.be.a('number').and.greaterThan(0)
      expect(r.prompt).to.be.a('string').and.not.equal('')
      expect(r.file).to.equal(`samples/${r.class}/${r.id}.png`)
      const meta = await sharp(join(dir, r.file)).metadata()
      expect([meta.format, meta.width, meta.height, meta.channels]).to.deep.equal(['png', 8, 8, 3])
    }
    expect(new Set(rs.map(r => r.seed)).size).to.equal(5)
    const perClassPrompts = rs.filter(r => r.class === 'mel').map(r => r.prompt)
    for (const p of perClassPrompts) expect(p).to.include('image of mel')
    for (const cls of ['mel', 'nv', 'prompt']) {
      const sheet = await sharp(join(dir, 'samples', `contact-${cls}.png`)).metadata()
      expect(sheet.format).to.equal('png')
      expect(sheet.width).to.be.greaterThan(128)
    }
    const summary = JSON.parse(readFileSync(join(dir, 'samples', 'summary.json'), 'utf8'))
    expect(summary.images).to.equal(5)
    expect(summary.classes).to.deep.equal({prompt: 1, mel: 2, nv: 2})
    expect(summary.meanSecondsPerImage).to.be.greaterThan(0)
    expect(summary.lastRun.meanSecondsPerImage).to.equal(result.meanSecondsPerImage)
  })

  it('same seed -> byte-identical PNGs; another run seed -> different images', async () => {
    const runOnce = async (seed: number) => {
      const dir = makeRun(tmpDir())
      await generateSamples({
        config: configFor(dir, {'run.seed': seed}),
        runDir: dir,
        request: request({perClass: 1}),
        shard: null,
        force: false,
        loadModels: fakeModels()
      })
      return ['mel', 'nv'].map(cls => readFileSync(join(dir, 'samples', cls, `${cls}-0000.png`)))
    }
    const a = await runOnce(11)
    const b = await runOnce(11)
    const c = await runOnce(12)
    for (let i = 0; i < a.length; i++) {
      expect(a[i].equals(b[i]), 'same seed, same bytes').to.equal(true)
      expect(a[i].equals(c[i]), 'different seed, different image').to.equal(false)
    }
    // and within one run every image has its own seed: two images of one class differ
    const dir = makeRun(tmpDir())
    await generateSamples({
      config: configFor(dir),
      runDir: dir,
      request: request({prompts: [{prompt: 'same'}, {prompt: 'same'}]}),
      shard: null,
      force: false,
      loadModels: fakeModels()
    })
    const [p0, p1] = records(dir).map(r => readFileSync(join(dir, r.file)))
    expect(p0.equals(p1)).to.equal(false)
  })

  it('an image does not depend on the batch it was sampled in', async () => {
    const grab = async (batchSize: number) => {
      const dir = makeRun(tmpDir())
      await generateSamples({
        config: configFor(dir, {'generate.batchSize': batchSize, 'generate.sampler': 'ddpm'}),
        runDir: dir,
        request: request({perClass: 2}),
        shard: null,
        force: false,
        loadModels: fakeModels()
      })
      return readFileSync(join(dir, 'samples', 'nv', 'nv-0001.png'))
    }
    expect((await grab(1)).equals(await grab(4))).to.equal(true)
  })

  it('classifier-free guidance runs [null; cond] in one batch; guidance 1 runs only the conditional half', async () => {
    for (const [guidance, factor] of [
      [4.5, 2],
      [1, 1],
      [0, 1]
    ] as const) {
      const calls: FakeCalls = {predictBatches: [], firstTokens: []}
      const dir = makeRun(tmpDir())
      await generateSamples({
        config: configFor(dir, {'generate.guidance': guidance, 'generate.batchSize': 2}),
        runDir: dir,
        request: request({perClass: 1}),
        shard: null,
        force: false,
        loadModels: fakeModels(calls)
      })
      expect(calls.predictBatches).to.deep.equal([2 * factor, 2 * factor, 2 * factor, 2 * factor])
      // the first row of the guided batch is the null condition (zeros in the fake)
      const nullFirst = calls.firstTokens[0].every(v => v === 0)
      expect(nullFirst).to.equal(factor === 2)
    }
  })

  it('resume skips ids already in the manifest; changed settings or a retrained model regenerate them; --force redoes all', async () => {
    const dir = makeRun(tmpDir())
    const r = request({perClass: 2})
    const first = await generateSamples({
      config: configFor(dir),
      runDir: dir,
      request: r,
      shard: null,
      force: false,
      loadModels: fakeModels()
    })
    expect(first.generated).to.equal(4)
    const again = await generateSamples({
      config: configFor(dir),
      runDir: dir,
      request: r,
      shard: null,
      force: false,
      loadModels: async () => {
        throw new Error('models must not load when nothing is left')
      }
    })
    expect([again.generated, again.skipped]).to.deep.equal([0, 4])
    rmSync(join(dir, 'samples', 'mel', 'mel-0001.png'))
    const repaired = await generateSamples({
      config: configFor(dir),
      runDir: dir,
      request: r,
      shard: null,
      force: false,
      loadModels: fakeModels()
    })
    expect(repaired.generated).to.equal(1)
    const ddim = await generateSamples({
      config: configFor(dir, {'generate.sampler': 'ddim'}),
      runDir: dir,
      request: r,
      shard: null,
      force: false,
      loadModels: fakeModels()
    })
    expect(ddim.generated).to.equal(4)
    const rs = records(dir)
    expect(rs.length).to.equal(4) // compacted: one line per id
    expect(rs.every(x => x.sampler === 'ddim')).to.equal(true)
    writeFileSync(join(dir, 'dit', 'hffm.safetensors'), 'retrained')
    const retrained = await generateSamples({
      config: configFor(dir, {'generate.sampler': 'ddim'}),
      runDir: dir,
      request: r,
      shard: null,
      force: false,
      loadModels: fakeModels()
    })
    expect(retrained.generated, 'a retrained DiT makes every image stale').to.equal(4)
    const forced = await generateSamples({
      config: configFor(dir, {'generate.sampler': 'ddim'}),
      runDir: dir,
      request: r,
      shard: null,
      force: true,
      loadModels: fakeModels()
    })
    expect(forced.generated).to.equal(4)
  })

  it('shards write disjoint parts; mergeSampleShards joins them into the same set as one unsharded run', async () => {
    const dir = makeRun(tmpDir())
    const r = request({perClass: 3})
    for (const index of [0, 1]) {
      await generateSamples({
        config: configFor(dir),
        runDir: dir,
        request: r,
        shard: {index, count: 2},
        force: false,
        loadModels: fakeModels()
      })
    }
    const parts = readdirSync(join(dir, 'samples', 'parts')).sort()
    expect(parts).to.deep.equal(['manifest-0-of-2.jsonl', 'manifest-1-of-2.jsonl'])
    const merged = await mergeSampleShards(dir)
    expect([merged.parts, merged.images]).to.deep.equal([2, 6])
    const ids = records(dir)
      .map(x => x.id)
      .sort()
    const whole = makeRun(tmpDir())
    await generateSamples({
      config: configFor(whole),
      runDir: whole,
      request: r,
      shard: null,
      force: false,
      loadModels: fakeModels()
    })
    expect(ids).to.deep.equal(
      records(whole)
        .map(x => x.id)
        .sort()
    )
    for (const id of ids) {
      const cls = id.split('-')[0]
      expect(
        readFileSync(join(dir, 'samples', cls, `${id}.png`)).equals(
          readFileSync(join(whole, 'samples', cls, `${id}.png`))
        )
      ).to.equal(true)
    }
    expect(existsSync(join(dir, 'samples', 'contact-mel.png'))).to.equal(true)
    // a shard rerun after the merge finds its images in the merged manifest and makes none
    rmSync(join(dir, 'samples', 'parts', 'manifest-0-of-2.jsonl'))
    const rerun = await generateSamples({
      config: configFor(dir),
      runDir: dir,
      request: r,
      shard: {index: 0, count: 2},
      force: false,
      loadModels: async () => {
        throw new Error('nothing to load')
      }
    })
    expect(rerun.generated).to.equal(0)
    rmSync(join(dir, 'samples', 'parts', 'manifest-1-of-2.jsonl'))
    await expectUserError(mergeSampleShards(dir), /missing part 1\/2; run `medgen generate --shard 1\/2`/)
  })

  it("inputs combine: free prompts, a split's captions, per-class draws and the attribute grid", async () => {
    const dir = makeRun(tmpDir())
    const items = await buildItems(
      request({prompts: [{prompt: 'free text'}], fromCaptions: 'test', perClass: 1, grid: true, classes: ['mel']}),
      {runDir: dir, runSeed: 3, dataKind: 'auto'}
    )
    const bySource = (src: string) => items.filter(i => i.source === src)
    expect(bySource('prompt').map(i => [i.class, i.prompt])).to.deep.equal([['mel', 'free text']])
    expect(bySource('captions').map(i => i.id)).to.deep.equal(['mel_2', 'mel_3'])
    expect(bySource('per-class').map(i => i.id)).to.deep.equal(['mel-0000'])
    // dermoscopy: shape 3 x border 2 x symmetry 2 x size 3 anatomy, colour 4 x second colour 5 x texture 3 style
    const grid = bySource('grid')
    expect(grid.length).to.equal(36 * 60)
    expect(grid[0].prompt).to.equal(renderCaption('dermoscopy', 'mel', grid[0].attributes!).caption)
    expect(new Set(grid.map(i => i.prompt)).size).to.equal(grid.length)
    expect(new Set(items.map(i => i.seed)).size).to.equal(items.length)
    // ultrasound: "none" anatomy only as a whole (no lesion), never mixed with a described one
    const us = attributeGrid('ultrasound')
    const anatomyKeys = Object.keys(attributeGroups.ultrasound.anatomy)
    for (const a of us) {
      const nones = anatomyKeys.filter(k => a[k] === 'none').length
      expect([0, anatomyKeys.length]).to.include(nones)
    }
  })

  it('user errors are one clear line: prompt file, unknown class, split, missing artifacts', async () => {
    const dir = makeRun(tmpDir())
    await expectUserError(readPromptFile(join(dir, 'nope.txt')), /--prompts .*nope\.txt: no such file/)
    writeFileSync(join(dir, 'empty.txt'), '# only a comment\n\n')
    await expectUserError(readPromptFile(join(dir, 'empty.txt')), /no prompts found/)
    writeFileSync(join(dir, 'bad.txt'), 'a fine prompt\n{"prompt": oops}\n')
    await expectUserError(readPromptFile(join(dir, 'bad.txt')), /bad\.txt:2: invalid JSON/)
    writeFileSync(join(dir, 'bin.txt'), Buffer.from([0x41, 0x00, 0x42]))
    await expectUserError(readPromptFile(join(dir, 'bin.txt')), /not a text file/)
    writeFileSync(join(dir, 'good.txt'), '# prompts\nround lesion\n{"prompt": "blue-grey veil", "class": "mel"}\n')
    expect(await readPromptFile(join(dir, 'good.txt'))).to.deep.equal([
      {prompt: 'round lesion'},
      {prompt: 'blue-grey veil', class: 'mel'}
    ])

    const config = configFor(dir)
    const gen = (r: ResolvedRequest) =>
      generateSamples({config, runDir: dir, request: r, shard: null, force: false, loadModels: fakeModels()})
    await expectUserError(
      gen(request({perClass: 1, classes: ['melanoma']})),
      /--class melanoma: unknown class; the classes in .*captions\.jsonl are mel, nv/
    )
    await expectUserError(
      gen(request({fromCaptions: 'validation'})),
      /--from-captions validation: no captions in that split; .* has test, train/
    )
    await expectUserError(resolveRequest({perClass: 0}, {perClass: 8}), /--per-class 0/)

    const bare = tmpDir()
    await expectUserError(
      runStage(generateStageFor(request({prompts: [{prompt: 'x'}]})), configFor(bare)),
      /text\/model\.safetensors: missing; run `medgen align-text` first/
    )
    makeRun(bare, {artifacts: false})
    writeFileSync(join(bare, 'placeholder'), '')
    const {mkdirSync} = await import('node:fs')
    mkdirSync(join(bare, 'text'), {recursive: true})
    writeFileSync(join(bare, 'text', 'model.safetensors'), 'x')
    await expectUserError(
      runStage(generateStageFor(request({prompts: [{prompt: 'x'}]})), configFor(bare)),
      /dit\/dit\.json: missing; run `medgen finetune-dit` first/
    )
    const noCaptions = tmpDir()
    await expectUserError(
      runStage(generateStageFor(request({perClass: 1})), configFor(noCaptions)),
      /captions\/captions\.jsonl: missing; run `medgen caption` first/
    )
  })

  it('runs as a stage: manifest notes hold the mean seconds per image; a second run is up to date', async () => {
    const dir = makeRun(tmpDir())
    const spec = generateStageFor(request({perClass: 1}), {loadModels: fakeModels()})
    const first = await runStage(spec, configFor(dir))
    expect(first.skipped).to.equal(false)
    const manifest = JSON.parse(readFileSync(join(dir, 'samples', 'manifest.json'), 'utf8'))
    expect(manifest.status).to.equal('complete')
    expect(manifest.notes.generated).to.equal(2)
    expect(manifest.notes.meanSecondsPerImage).to.be.greaterThan(0)
    expect((await runStage(spec, configFor(dir))).skipped).to.equal(true)
  })
})
