// Hostile inputs (issue 23), in process: every reader of a user's file validates at its boundary
// and throws one UserError naming the file, key or line (class 1); sizes declared in headers are
// bounded before anything is allocated (class 2); paths built from data stay inside their root
// (class 3); the CSV reader rejects an unterminated quote and empty required fields (class 5).
import {expect} from 'chai'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {deflateRawSync} from 'node:zlib'
import {tmpDir} from '../helpers/tmp.js'
import {expectUserError} from '../helpers/user-error.js'
import {pngDeclaring, safetensorsWithHeader} from '../helpers/hostile-files.js'
import {npy, zip} from '../eval/helpers.js'
import {torchZip} from '../io/torch-writer.js'
import {UserError, describeNodeError, printable} from '../../src/errors.js'
import {readSafetensorsHeader, writeSafetensors} from '../../src/io/safetensors.js'
import {loadFeatureFile} from '../../src/metrics/feature-files.js'
import {readCaptionLines} from '../../src/caption/records.js'
import {loadStateDict} from '../../src/io/weights.js'
import {CheckpointManager} from '../../src/train/checkpoint.js'
import {writeFileAtomic} from '../../src/io/atomic.js'
import {asPytorchFid, readImage, readRgb8, imageSize} from '../../src/io/images.js'
import {decodeImage, CorruptImageError} from '../../src/data/image-io.js'
import {readTorchCheckpoint} from '../../src/io/torch.js'
import {DEFAULT_MAX_INFLATED_BYTES, readLimits, setReadLimits} from '../../src/io/limits.js'
import {checkFileName, insideRoot, staysInside} from '../../src/io/paths.js'
import {parseCsv, readCsvTable} from '../../src/data/layouts/common.js'
import {readHam10000} from '../../src/data/layouts/ham10000.js'
import {buildItems} from '../../src/stages/generate/items.js'
import {computeInceptionMetrics} from '../../src/stages/eval/image-metrics.js'
import {loadConfig} from '../../src/config/load.js'
import {readDiffusersStateDict} from '../../src/models/pixart/load.js'
import {readWeightsFile} from '../../src/models/bert/load.js'
import {ensureSplit} from '../../src/data/split.js'
import {inventoryOf} from '../../src/check/inventory.js'

describe('hostile inputs: readers of user files (issue 23)', function () {
  this.timeout(120_000)
  const dir = tmpDir('medgen-hostile-')

  describe('class 1: boundary validation, one line naming the file, key or line', () => {
    it('node errno and ERR_* errors map to one line (NUL byte in a path, EEXIST/ENOTDIR below a file); our bugs stay internal', async () => {
      let nul: unknown
      try {
        readFileSync(join(dir, 'a\0b.yaml'))
      } catch (err) {
        nul = err
      }
      const mapped = describeNodeError(nul)!
      expect(mapped.message).to.match(/^invalid path '.*a\\x00b\.yaml': contains a NUL byte$/)
      expect(mapped.exitCode).to.equal(2)
      writeFileSync(join(dir, 'plain-file'), 'x')
      const below = await expectUserError(writeFileAtomic(join(dir, 'plain-file', 'out', 'x.safetensors'), 'data'))
      expect(below).to.match(/plain-file.*: (not a directory|already exists and is not a directory)/)
      let eexist: unknown
      try {
        mkdirSync(join(dir, 'plain-file'))
      } catch (err) {
        eexist = err
      }
      expect(describeNodeError(eexist)!.message).to.equal(
        `${join(dir, 'plain-file')}: already exists and is not a directory`
      )
      expect(printable('dx\x1b[2J\0\r')).to.equal('dx\\x1b[2J\\x00\\x0d') // what the top-level handler prints
      let bug: unknown
      try {
        readFileSync(undefined as unknown as string)
      } catch (err) {
        bug = err
      }
      expect(describeNodeError(bug)).to.equal(null)
    })

    it('a safetensors header that is valid JSON but not an object, or whose __metadata__ is not strings', async () => {
      for (const [name, json] of [
        ['list', '[1, 2]'],
        ['number', '42'],
        ['null', 'null'],
        ['string', '"tensors"']
      ]) {
        const path = join(dir, `${name}.safetensors`)
        writeFileSync(path, safetensorsWithHeader(json))
        expect(await expectUserError(readSafetensorsHeader(path))).to.match(
          new RegExp(`^${path}: safetensors header: \\(top level\\): expected an object`)
        )
      }
      const path = join(dir, 'meta.safetensors')
      writeFileSync(path, safetensorsWithHeader('{"__metadata__": {"ids": [1, 2]}}'))
      expect(await expectUserError(readSafetensorsHeader(path))).to.equal(
        `${path}: safetensors __metadata__: ids: expected a string`
      )
      writeFileSync(path, safetensorsWithHeader('{"w": 7}'))
      expect(await expectUserError(readSafetensorsHeader(path))).to.match(/tensor w: unsupported dtype/)
    })

    it('.npy headers with a negative or non-numeric shape, or a header past the end; a .npz whose directory points past the end', async () => {
      const good = npy(new Float64Array(6), [2, 3])
      for (const [label, shape] of [
        ['negative', '-5, 3'],
        ['text', "'a', 3"],
        ['float', '2.5, 3']
      ]) {
        const path = join(dir, `${label}.npy`)
        writeFileSync(path, Buffer.from(good.toString('latin1').replace('(2, 3)', `(${shape})`), 'latin1'))
        expect(await expectUserError(loadFeatureFile(path))).to.match(
          new RegExp(`^${path}: \\.npy header shape .* is not a tuple of non-negative integers`)
        )
      }
      const short = join(dir, 'short.npy')
      writeFileSync(short, good.subarray(0, 40))
      expect(await expectUserError(loadFeatureFile(short))).to.match(
        /short\.npy: \.npy header length \d+ runs past the end/
      )
      const archive = zip({'features.npy': good}, false)
      archive.writeUInt32LE(archive.length + 1000, archive.length - 22 + 16) // central directory offset
      const npz = join(dir, 'past-end.npz')
      writeFileSync(npz, archive)
      expect(await expectUserError(loadFeatureFile(npz))).to.match(
        /past-end\.npz: corrupt \.npz archive \(central directory .* lies past the end of the file\)/
      )
    })

    it('feature files with a single row, or of different widths, are refused naming the file', async () => {
      const one = join(dir, 'one-row.npy')
      writeFileSync(one, npy(new Float64Array(4), [1, 4]))
      expect(await expectUserError(loadFeatureFile(one))).to.equal(
        `${one}: feature matrix features has 1 row(s); FID/KID need at least 2`
      )
      const real = join(dir, 'real.npy'),
        gen = join(dir, 'gen.npy')
      writeFileSync(
        real,
        npy(
          Float64Array.from({length: 12}, (_, i) => i),
          [3, 4]
        )
      )
      writeFileSync(
        gen,
        npy(
          Float64Array.from({length: 15}, (_, i) => i),
          [3, 5]
        )
      )
      const config = loadConfig({overrides: {'eval.featuresReal': real, 'eval.featuresGen': gen}})
      const message = await expectUserError(
        computeInceptionMetrics(config, dir, {realFiles: [], genFiles: []}, new Set(['fid']))
      )
      expect(message).to.equal(
        `${gen}: 5-d features, but ${real} are 4-d; both sides must come from the same extractor`
      )
    })

    it('captions.jsonl: a broken middle line, null and number lines, fields of the wrong type name file:line', async () => {
      const ok = JSON.stringify({id: 'a', file: 'x/a.png', class: 'mel', split: 'train', caption: 'A lesion.'})
      const cases: Array<[string, RegExp]> = [
        ['{"id": "b", "capt', /:2: not valid JSON/],
        ['null', /:2: expected a JSON object per line, found null/],
        ['42', /:2: expected a JSON object per line, found a number/],
        ['{"id": "b", "caption": 5}', /:2: caption: caption: expected a string/],
        ['{"id": "b", "caption": "c", "attributes": [1]}', /:2: caption: attributes: expected an object/],
        [
          '{"id": "b", "caption": "c", "file": "../../etc/passwd"}',
          /:2: caption: file: must be a relative path inside the dataset folder/
        ]
      ]
      for (const [k, [line, message]] of cases.entries()) {
        const path = join(dir, `captions-${k}.jsonl`)
        writeFileSync(path, [ok, line, ok].join('\n') + '\n')
        const got = await expectUserError(readCaptionLines(path))
        expect(got.startsWith(`${path}:2: `), got).to.equal(true)
        expect(got).to.match(message)
      }
      const torn = join(dir, 'torn.jsonl')
      writeFileSync(torn, ok + '\n{"id": "b", "cap') // a torn LAST line (kill mid-append) is still tolerated
      expect((await readCaptionLines(torn)).map(r => r.id)).to.deep.equal(['a'])
    })

    it('a sharded-weights index whose entries are not strings, or not an object', async () => {
      const model = join(dir, 'sharded')
      mkdirSync(model)
      await writeSafetensors(join(model, 'part-1.safetensors'), {
        w: {dtype: 'F32', shape: [1], data: new Float32Array([1])}
      })
      const index = join(model, 'model.safetensors.index.json')
      writeFileSync(index, JSON.stringify({weight_map: {w: 5}}))
      expect(await expectUserError(loadStateDict(model))).to.equal(
        `${index}: shard index: weight_map.w: expected a string`
      )
      writeFileSync(index, JSON.stringify({weight_map: ['part-1.safetensors']}))
      expect(await expectUserError(loadStateDict(model))).to.equal(
        `${index}: shard index: weight_map: expected an object`
      )
      writeFileSync(index, JSON.stringify({weight_map: {w: 'part-1.safetensors'}}))
      expect((await loadStateDict(model)).get('w')!.data[0]).to.equal(1)
    })

    it('a split.json whose assignments are null or not train/val/test is damaged, not a crash', async () => {
      const runDir = join(dir, 'split-run')
      mkdirSync(runDir)
      for (const assignments of [null, {a: 'holdout'}, [1]]) {
        writeFileSync(
          join(runDir, 'split.json'),
          JSON.stringify({seed: 1, hash: 'x', testFraction: 0.2, valFraction: 0.1, assignments})
        )
        expect(
          await expectUserError(ensureSplit(runDir, {records: []}, {seed: 1, testFraction: 0.2, valFraction: 0.1}))
        ).to.match(/split\.json: damaged \(assignments.*\); delete it to make a new split/)
      }
    })

    it('a checkpoint state.json with a negative, fractional or mismatched step', async () => {
      const manager = new CheckpointManager(join(dir, 'ckpt'), 2)
      const path = await manager.save(3, {params: new Map(), optimizer: new Map(), state: {note: 'x'}})
      expect((await manager.load(path)).step).to.equal(3)
      for (const [step, message] of [
        [-4, /step: Too small/i],
        [1.5, /step: .*int/i],
        ['3', /step: expected a number/],
        [7, /step 7 does not match the folder name checkpoint-3/]
      ] as const) {
        writeFileSync(join(path, 'state.json'), JSON.stringify({step}))
        const got = await expectUserError(manager.load(path))
        expect(got.startsWith(join(path, 'state.json')), got).to.equal(true)
        expect(got).to.match(message)
      }
    })
  })

  describe('class 1: mutated real files fail only with UserErrors', () => {
    // Deterministic fuzzing of the parts readers interpret (headers, pickles, zip directories):
    // every outcome must be a clean read or a one-line UserError, never a TypeError/RangeError.
    const golden = new URL('../fixtures/golden/bert-tiny/', import.meta.url).pathname
    const cases: Array<{
      file: string
      read: (p: string) => Promise<unknown>
      regions: (n: number) => Array<[number, number]>
    }> = [
      {
        file: 'model.safetensors',
        read: p =>
          readSafetensorsHeader(p)
            .then(() => import('../../src/io/safetensors.js'))
            .then(m => m.readSafetensors(p)),
        regions: () => [[0, 4096]]
      },
      {
        file: 'pytorch_model.bin',
        read: readTorchCheckpoint,
        regions: n => [
          [0, 4096],
          [n - 2048, n]
        ]
      },
      {file: 'pytorch_model_legacy.bin', read: readTorchCheckpoint, regions: () => [[0, 8192]]}
    ]
    for (const c of cases) {
      it(`${c.file}: 100 seeded mutations of its structure`, async function () {
        this.timeout(180_000) // ~1 s alone; minutes on a loaded 2-core machine
        const original = readFileSync(join(golden, c.file))
        let seed = 12345
        const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
        const outcomes = {ok: 0, userError: 0}
        const path = join(dir, `fuzz-${c.file}`)
        for (let k = 0; k < 100; k++) {
          const bytes = Buffer.from(original)
          const regions = c.regions(bytes.length)
          for (let m = 0; m < 1 + Math.floor(next() * 4); m++) {
            const [lo, hi] = regions[Math.floor(next() * regions.length)]
            const at = lo + Math.floor(next() * (hi - lo))
            bytes[at] = next() < 0.5 ? Math.floor(next() * 256) : bytes[at] ^ (1 << Math.floor(next() * 8))
          }
          writeFileSync(path, next() < 0.1 ? bytes.subarray(0, Math.floor(next() * bytes.length)) : bytes)
          try {
            await c.read(path)
            outcomes.ok++
          } catch (err) {
            expect(err, `mutation ${k}: ${(err as Error)?.stack}`).to.be.instanceOf(UserError)
            expect((err as Error).message).to.not.include('\n')
            outcomes.userError++
          }
        }
        expect(outcomes.userError).to.be.above(10)
      })
    }
  })

  describe('class 2: sizes from headers bounded before allocating', () => {
    it('a ~100-byte PNG declaring 12000×12000 pixels is refused from its header by every image reader', async () => {
      const path = join(dir, 'huge.png')
      writeFileSync(path, pngDeclaring(12000, 12000))
      const sized = await imageSize(path).catch(e => e)
      expect(sized.message, sized.message).to.match(/above the limit/)
      const before = process.memoryUsage().rss
      const started = Date.now()
      const message = await expectUserError(readImage(path, {size: 32}))
      expect(message).to.equal(
        `${path}: image declares 12000×12000 pixels (144.0 MP), above the limit of 40.0 MP; raise it with --set run.maxImagePixels=N if the image is genuine`
      )
      const data = await decodeImage(path, {width: 32, height: 32}).catch(e => e)
      expect(data).to.be.instanceOf(UserError).and.not.instanceOf(CorruptImageError) // data.onCorrupt=skip must not hide it
      expect(await expectUserError(readRgb8(path, {...asPytorchFid, size: 32}))).to.match(
        /huge\.png: image declares 12000×12000 pixels .*above the limit of 40\.0 MP; raise it with --set run\.maxImagePixels=N/
      )
      expect(Date.now() - started).to.be.below(5000)
      expect(process.memoryUsage().rss - before).to.be.below(200 * 2 ** 20) // decoding would take 432 MB per copy
      // the limit is a setting: a small image passes, a lower limit refuses it
      const small = join(dir, 'small.png')
      writeFileSync(small, pngDeclaring(8, 8))
      const saved = readLimits().maxImagePixels
      try {
        setReadLimits({maxImagePixels: 32})
        expect(await expectUserError(readImage(small))).to.match(/8×8 pixels .* above the limit/)
      } finally {
        setReadLimits({maxImagePixels: saved})
      }
    })

    it('a zip entry that inflates past its declared size, or declares more than run.maxInflatedBytes, is refused (.npz and torch .pth)', async () => {
      const bomb = Buffer.alloc(16 * 2 ** 20) // 16 MiB of zeros deflate to ~16 KB
      const archive = zip({'features.npy': bomb}, true)
      const cdAt = archive.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))
      archive.writeUInt32LE(1000, cdAt + 24) // declared (uncompressed) size: 1000 bytes
      const lying = join(dir, 'lying.npz')
      writeFileSync(lying, archive)
      expect(await expectUserError(loadFeatureFile(lying))).to.match(
        /lying\.npz: corrupt \.npz archive \(features\.npy inflates past the 1000 bytes it declares\)/
      )
      const honest = join(dir, 'honest.npz')
      writeFileSync(honest, zip({'features.npy': npy(new Float64Array((2 * 2 ** 20) / 8), [2, 2 ** 20 / 8])}, true))
      try {
        setReadLimits({maxInflatedBytes: 2 ** 20})
        expect(await expectUserError(loadFeatureFile(honest))).to.match(
          /honest\.npz: zip entry features\.npy: declares 20\d+ bytes once inflated, above the limit of 1048576 \(raise it with --set run\.maxInflatedBytes=N/
        )
        const pth = join(dir, 'bomb.pth')
        writeFileSync(
          pth,
          torchZip(
            {w: {storage: '0', offset: 0, size: [2 ** 19], stride: [1]}},
            {'0': {type: 'FloatStorage', bytes: new Uint8Array(2 ** 21)}},
            true
          )
        )
        expect(await expectUserError(readTorchCheckpoint(pth))).to.match(
          /bomb\.pth: zip entry .*data\/0: declares 2097152 bytes once inflated, above the limit/
        )
      } finally {
        setReadLimits({maxInflatedBytes: DEFAULT_MAX_INFLATED_BYTES})
      }
      expect((await loadFeatureFile(honest)).kind).to.equal('features')
      expect(deflateRawSync(bomb).length).to.be.below(100_000) // what makes it a bomb
    })

    it('a torch view with stride 0 over 250M elements of a one-element storage is refused without allocating', async () => {
      const path = join(dir, 'stride0.pt')
      writeFileSync(
        path,
        torchZip(
          {w: {storage: '0', offset: 0, size: [250_000_000], stride: [0]}},
          {'0': {type: 'FloatStorage', bytes: new Uint8Array(4)}}
        )
      )
      expect(readFileSync(path).length).to.be.below(2000)
      const before = process.memoryUsage().rss
      const message = await expectUserError(readTorchCheckpoint(path))
      expect(message).to.match(
        /stride0\.pt: truncated or corrupt PyTorch checkpoint \(tensor w views 250000000 elements over a storage of 1 \(stride \[0\]\)/
      )
      expect(process.memoryUsage().rss - before).to.be.below(200 * 2 ** 20)
    })
  })

  describe('class 3: paths built from data stay inside their root', () => {
    it('names that cannot be file names are refused; relative paths may not leave their root', () => {
      for (const bad of [
        '',
        '.',
        '..',
        '../../..',
        'a/b',
        'a\\b',
        'nul\0byte',
        'esc\x1b[2J',
        ' padded',
        'x'.repeat(256)
      ]) {
        expect(() => checkFileName(bad, 'dx'), JSON.stringify(bad)).to.throw(
          UserError,
          /^dx: ".*" cannot be a file or folder name/
        )
      }
      for (const good of ['mel', 'basal cell carcinoma', 'benign (1)', 'naïve'])
        expect(checkFileName(good, 'dx')).to.equal(good)
      for (const bad of ['../x', '/etc/passwd', 'a/../../b', '..', '', 'C:/x'])
        expect(staysInside(bad), bad).to.equal(false)
      for (const good of ['a', 'a/b.png', 'a/../b', './a']) expect(staysInside(good), good).to.equal(true)
      expect(() => insideRoot('/models/x', '../../etc/passwd', 'index.json: weight_map shard')).to.throw(
        UserError,
        /points outside \/models\/x/
      )
    })

    it('a HAM10000 dx of ../../.. is refused naming the metadata file and image', async () => {
      const root = join(dir, 'ham-escape')
      mkdirSync(join(root, 'HAM10000_images_part_1'), {recursive: true})
      writeFileSync(join(root, 'HAM10000_images_part_1', 'ISIC_1.jpg'), 'not decoded here')
      writeFileSync(join(root, 'HAM10000_metadata.csv'), 'lesion_id,image_id,dx\nHAM_1,ISIC_1,../../..\n')
      expect(await expectUserError(readHam10000(root))).to.equal(
        `${join(root, 'HAM10000_metadata.csv')}: image ISIC_1: dx: "../../.." cannot be a file or folder name (it contains a path separator)`
      )
    })

    it('generate refuses a class from captions.jsonl that would write outside samples/', async () => {
      const runDir = join(dir, 'gen-run')
      mkdirSync(join(runDir, 'captions'), {recursive: true})
      writeFileSync(
        join(runDir, 'captions', 'captions.jsonl'),
        JSON.stringify({id: 'a', file: 'a.png', class: '../../escape', split: 'train', caption: 'A lesion.'}) + '\n'
      )
      const request = {prompts: [], fromCaptions: 'all', perClass: undefined, grid: false, classes: []}
      expect(await expectUserError(buildItems(request, {runDir, runSeed: 1, dataKind: 'auto'}))).to.match(
        /captions\.jsonl: class: "\.\.\/\.\.\/escape" cannot be a file or folder name/
      )
    })

    it('a sharded-weights index naming a shard outside the model folder is refused before reading it', async () => {
      const model = join(dir, 'escape-model')
      mkdirSync(model)
      await writeSafetensors(join(dir, 'outside.safetensors'), {
        w: {dtype: 'F32', shape: [1], data: new Float32Array([1])}
      })
      writeFileSync(
        join(model, 'model.safetensors.index.json'),
        JSON.stringify({weight_map: {w: '../outside.safetensors'}})
      )
      expect(await expectUserError(loadStateDict(model))).to.match(
        /weight_map shard: "\.\.\/outside\.safetensors" points outside/
      )
      // the PixArt (diffusers) and BERT loaders read sharded indexes through the same check
      writeFileSync(
        join(model, 'diffusion_pytorch_model.safetensors.index.json'),
        JSON.stringify({weight_map: {w: '/etc/passwd'}})
      )
      expect(await expectUserError(readDiffusersStateDict(model))).to.match(
        /weight_map shard: "\/etc\/passwd" points outside/
      )
      expect(await expectUserError(readWeightsFile(join(model, 'model.safetensors.index.json')))).to.match(
        /weight_map shard: "\.\.\/outside\.safetensors" points outside/
      )
      writeFileSync(join(model, 'config.json'), JSON.stringify({_class_name: 'PixArtTransformer2DModel'}))
      expect(await expectUserError(inventoryOf(model))).to.match(/weight_map shard: ".*" points outside/)
    })
  })

  describe('class 5: CSV reader', () => {
    it('an unterminated quote is an error naming the line where it opened', async () => {
      const text = 'lesion_id,image_id,dx\nHAM_1,ISIC_1,nv\nHAM_2,"ISIC_2,nv\nHAM_3,ISIC_3,mel\nHAM_4,ISIC_4,bcc\n'
      expect(() => parseCsv(text, 'meta.csv')).to.throw(
        UserError,
        /^meta\.csv:3: quoted field opened here is never closed/
      )
      // quoted fields spanning lines still parse, and rows keep the line they start on
      expect(parseCsv('a,b\n"x\ny",z\nq,r\n', 'ok.csv').map(r => r.line)).to.deep.equal([1, 2, 4])
    })

    it('an empty required field (dx) names file and line', async () => {
      const path = join(dir, 'empty-dx.csv')
      writeFileSync(path, 'lesion_id,image_id,dx\nHAM_1,ISIC_1,nv\nHAM_2,ISIC_2,\n')
      expect(await expectUserError(readCsvTable(path, ['lesion_id', 'image_id', 'dx'], ['image_id', 'dx']))).to.equal(
        `${path}:3: empty dx`
      )
    })
  })
})
