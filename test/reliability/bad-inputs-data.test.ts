// Bad-input corpus, part 2: datasets, images, masks, metadata, weights folders, an Ollama server
// that answers junk, unwritable run directories and a full disk. Each case runs the CLI as a
// user would and expects an exit code and ONE medgen line naming the file or key, no stack
// trace, and every file that existed before byte-identical afterwards (hashes).
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync
} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {join} from 'node:path'
import {goldenDir, tmpDir} from '../helpers/tmp.js'
import {pngDeclaring} from '../helpers/hostile-files.js'
import {expectRefusal, type RunOptions} from './harness.js'
import {mustRun} from './fixtures.js'

interface Ctx {
  dir: string
  data: string
  run: string
  port: number
}
interface Case {
  name: string
  /** returns the CLI arguments (and options) after damaging a copy of the dataset */
  setup: (c: Ctx) => string[] | {args: string[]; opts: RunOptions}
  exit: number
  message: RegExp
  /** the medgen lines the message must be the only one of (default: all but progress lines) */
  pick?: (lines: string[]) => string[]
  /** further checks on what the run left behind */
  check?: (c: Ctx) => void
  /** a bug outside test/reliability this case exposes: registered as pending until fixed
   *  (MEDGEN_RELIABILITY_BUGS=1 runs it anyway) */
  knownBug?: string
}

const IMG = 'HAM10000_images_part_1'
const SEG = 'HAM10000_segmentations_lesion_tschandl'
const META = 'HAM10000_metadata.csv'
let firstImage = ''
const caption = (c: Ctx, ...extra: string[]) => ['caption', c.data, '--run-dir', c.run, '--backend', 'wasm', ...extra]

/** A PNG of another size, written by sharp in a child (keeps this file free of image code). */
function writeMask(path: string, size: number): void {
  execFileSync(
    process.execPath,
    [
      '-e',
      `require('sharp')({create: {width: ${size}, height: ${size}, channels: 3, background: '#fff'}}).png().toFile(${JSON.stringify(path)})`
    ],
    {cwd: new URL('../../', import.meta.url).pathname}
  )
}

const cases: Case[] = [
  {
    name: 'corrupt image (random bytes)',
    exit: 2,
    message:
      /ISIC_\d+\.jpg: corrupt or unreadable image \(not a readable image .*\); fix or remove it, or set data\.onCorrupt=skip/,
    setup: c => {
      writeFileSync(
        join(c.data, IMG, firstImage),
        Buffer.from('\xff\xd8\xff\xe0 this is not really a jpeg'.repeat(20), 'latin1')
      )
      return caption(c)
    }
  },
  // libvips names what it meets at the cut: the entropy data (premature end) or, seen once in a
  // clean-clone CI run, the header tables; both are the truncation, reported on one line
  {
    name: 'truncated image',
    exit: 2,
    message: /ISIC_\d+\.jpg: corrupt or unreadable image \(.*(premature end of JPEG|corrupt header)/,
    setup: c => {
      const p = join(c.data, IMG, firstImage)
      truncateSync(p, Math.floor(readFileSync(p).length / 3))
      return caption(c)
    }
  },
  {
    name: 'zero-byte image',
    exit: 2,
    message: /ISIC_\d+\.jpg: corrupt or unreadable image \(empty file \(0 bytes\), expected an image\)/,
    setup: c => {
      writeFileSync(join(c.data, IMG, firstImage), '')
      return caption(c)
    }
  },
  {
    name: 'wrong-format image (text named .jpg)',
    exit: 2,
    message: /ISIC_\d+\.jpg: corrupt or unreadable image \(.*unsupported image format/,
    setup: c => {
      writeFileSync(join(c.data, IMG, firstImage), 'lesion_id,image_id\nnot,an image\n')
      return caption(c)
    }
  },
  {
    name: 'truncated mask PNG',
    exit: 2,
    message: /_segmentation\.png: corrupt or unreadable image \(.*truncated PNG/,
    setup: c => {
      const p = join(c.data, SEG, firstImage.replace('.jpg', '_segmentation.png'))
      truncateSync(p, Math.floor(readFileSync(p).length / 2))
      return caption(c)
    }
  },
  {
    name: 'mask of another size than its image',
    exit: 2,
    message: /_segmentation\.png: mask is 16×16/,
    setup: c => {
      writeMask(join(c.data, SEG, firstImage.replace('.jpg', '_segmentation.png')), 16)
      return caption(c)
    }
  },
  {
    name: 'dataset folder of no known layout',
    exit: 2,
    message: /: no known dataset layout/,
    setup: c => {
      const d = join(c.dir, 'odd')
      mkdirSync(d)
      writeFileSync(join(d, 'notes.txt'), 'hello')
      return ['caption', d, '--run-dir', c.run]
    }
  },
  {
    name: 'empty dataset (metadata with a header only)',
    exit: 2,
    message: /empty dataset|empty file|no images/,
    setup: c => {
      writeFileSync(join(c.data, META), readFileSync(join(c.data, META), 'utf8').split('\n')[0] + '\n')
      return caption(c)
    }
  },
  {
    name: 'class folder with no images',
    exit: 2,
    message: /empty-class: class folder with no images/,
    setup: c => {
      const d = join(c.dir, 'classes')
      mkdirSync(join(d, 'benign'), {recursive: true})
      mkdirSync(join(d, 'empty-class'))
      for (const f of readdirSync(join(c.data, IMG)).slice(0, 3))
        copyFileSync(join(c.data, IMG, f), join(d, 'benign', f))
      return ['caption', d, '--run-dir', c.run, '--layout', 'folder']
    }
  },
  {
    name: 'metadata CSV missing a column',
    exit: 2,
    message: /HAM10000_metadata\.csv: missing column dx/,
    setup: c => {
      const rows = readFileSync(join(c.data, META), 'utf8')
        .split('\n')
        .map(l =>
          l
            .split(',')
            .filter((_, i) => i !== 2)
            .join(',')
        )
      writeFileSync(join(c.data, META), rows.join('\n'))
      return caption(c)
    }
  },
  {
    name: 'metadata CSV with non-UTF-8 bytes',
    exit: 2,
    message: /HAM10000_metadata\.csv: not valid UTF-8/,
    setup: c => {
      const text = readFileSync(join(c.data, META))
      writeFileSync(join(c.data, META), Buffer.concat([text, Buffer.from([0x48, 0x41, 0x4d, 0xff, 0xfe, 0x2c, 0x0a])]))
      return caption(c)
    }
  },
  {
    name: 'metadata CSV row with too many fields',
    exit: 2,
    message: /HAM10000_metadata\.csv:\d+: 9 fields, the header has 7/,
    setup: c => {
      writeFileSync(
        join(c.data, META),
        readFileSync(join(c.data, META), 'utf8').trimEnd() + '\nHAM_1,ISIC_9,nv,histo,1,male,back,x,y\n'
      )
      return caption(c)
    }
  },
  {
    name: 'metadata lists an image that is not there',
    exit: 2,
    message: /HAM10000_metadata\.csv: 1 listed image not found/,
    setup: c => {
      writeFileSync(
        join(c.data, META),
        readFileSync(join(c.data, META), 'utf8').trimEnd() + '\nHAM_1,ISIC_9999999,nv,histo,1,male,back\n'
      )
      return caption(c)
    }
  },
  {
    name: 'damaged split.json in the run directory is kept, not overwritten',
    exit: 2,
    message: /split\.json: (damaged|not valid JSON)/,
    setup: c => {
      mkdirSync(c.run, {recursive: true})
      writeFileSync(join(c.run, 'split.json'), '{"seed": 1, "hash": "x", "assignments": {')
      return caption(c)
    }
  },
  {
    name: 'weights folder of another architecture (bert given a PixArt folder)',
    exit: 2,
    message: /pixart.*(config\.json|BERT|bert)|(config\.json|BERT|bert).*pixart/i,
    setup: c => {
      const w = join(c.dir, 'pixart')
      cpSync(join(goldenDir, 'pixart-tiny'), w, {recursive: true})
      return [
        'forward',
        '--arch',
        'bert',
        '--weights',
        w,
        '--inputs',
        join(goldenDir, 'bert-tiny', 'io.safetensors'),
        '--out',
        join(c.dir, 'out.safetensors')
      ]
    }
  },
  {
    name: 'truncated PyTorch checkpoint',
    exit: 2,
    message: /pytorch_model\.bin: .*(truncated|damaged|not a|corrupt|zip)/i,
    setup: c => {
      const w = join(c.dir, 'bert')
      mkdirSync(w)
      copyFileSync(join(goldenDir, 'bert-tiny', 'hf_config.json'), join(w, 'config.json'))
      copyFileSync(join(goldenDir, 'bert-tiny', 'vocab.txt'), join(w, 'vocab.txt'))
      const bin = readFileSync(join(goldenDir, 'bert-tiny', 'pytorch_model.bin'))
      writeFileSync(join(w, 'pytorch_model.bin'), bin.subarray(0, Math.floor(bin.length * 0.6)))
      return [
        'forward',
        '--arch',
        'bert',
        '--weights',
        w,
        '--inputs',
        join(goldenDir, 'bert-tiny', 'io.safetensors'),
        '--out',
        join(c.dir, 'out.safetensors')
      ]
    }
  },
  {
    name: 'Ollama server answering junk to /api/tags',
    exit: 2,
    message: /Ollama at http:\/\/127\.0\.0\.1:\d+/,
    setup: c =>
      caption(
        c,
        '--captioner',
        'ollama',
        '--host',
        `http://127.0.0.1:${c.port}/junk`,
        '--set',
        'caption.retries=0',
        '--set',
        'caption.backoffMs=1'
      )
  },
  {
    name: 'Ollama server whose captions are junk: every failure recorded, exit 3 (nothing captioned) with one warning',
    exit: 3,
    message: /warning: 8 of 8 images got no caption; reasons in .*failures\.jsonl/,
    pick: lines => lines.filter(l => /warning/.test(l)),
    check: c => {
      const failures = readFileSync(join(c.run, 'captions', 'failures.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map(l => JSON.parse(l))
      expect(failures.map(f => f.id).sort()).to.deep.equal(
        readdirSync(join(c.data, IMG))
          .concat(readdirSync(join(c.data, 'HAM10000_images_part_2')))
          .map(f => f.replace('.jpg', ''))
          .sort()
      )
    },
    setup: c =>
      caption(
        c,
        '--captioner',
        'ollama',
        '--host',
        `http://127.0.0.1:${c.port}`,
        '--set',
        'caption.retries=1',
        '--set',
        'caption.backoffMs=1'
      )
  },
  // issue 23: hostile inputs
  {
    name: 'HAM10000 dx of ../../.. (would write outside the run dir)',
    exit: 2,
    message: /HAM10000_metadata\.csv: image ISIC_\d+: dx: "\.\.\/\.\.\/\.\." cannot be a file or folder name/,
    setup: c => {
      const p = join(c.data, META)
      writeFileSync(p, readFileSync(p, 'utf8').replace(/,(akiec|bcc|bkl|df|mel|nv|vasc),/, ',../../..,'))
      return caption(c)
    }
  },
  {
    name: 'metadata CSV with an unterminated quote',
    exit: 2,
    message: /HAM10000_metadata\.csv:3: quoted field opened here is never closed/,
    setup: c => {
      const p = join(c.data, META)
      const lines = readFileSync(p, 'utf8').split('\n')
      lines[2] = lines[2].replace(',', ',"')
      writeFileSync(p, lines.join('\n'))
      return caption(c)
    }
  },
  {
    name: 'metadata CSV with an empty dx',
    exit: 2,
    message: /HAM10000_metadata\.csv:2: empty dx/,
    setup: c => {
      const p = join(c.data, META)
      const lines = readFileSync(p, 'utf8').split('\n')
      const f = lines[1].split(',')
      f[2] = ''
      lines[1] = f.join(',')
      writeFileSync(p, lines.join('\n'))
      return caption(c)
    }
  },
  {
    name: 'a 100-byte mask PNG declaring 12000x12000 pixels',
    exit: 2,
    message:
      /_segmentation\.png: image declares 12000×12000 pixels \(144\.0 MP\), above the limit of 40\.0 MP; raise it with --set run\.maxImagePixels=N/,
    setup: c => {
      writeFileSync(join(c.data, SEG, firstImage.replace('.jpg', '_segmentation.png')), pngDeclaring(12000, 12000))
      return caption(c)
    }
  },
  {
    name: 'NUL byte in a path from the config (run.dir)',
    exit: 2,
    message: /invalid path .*bad\\x00dir.*: contains a NUL byte/,
    setup: c => {
      writeFileSync(join(c.dir, 'nul.yaml'), `run:\n  dir: "${c.dir}/bad\\0dir"\n`)
      return ['caption', c.data, '-c', join(c.dir, 'nul.yaml')]
    }
  },
  {
    name: 'Ollama server streaming garbage NDJSON: medgen\'s one warning, no client-library "invalid json" lines, exit 3',
    exit: 3,
    message: /warning: 8 of 8 images got no caption; reasons in .*failures\.jsonl/,
    pick: lines => lines.filter(l => /warning/.test(l)),
    check: c => {
      const failures = readFileSync(join(c.run, 'captions', 'failures.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map(l => JSON.parse(l))
      for (const f of failures) expect(f.reason).to.match(/server streamed a line that is not JSON/)
    },
    setup: c =>
      caption(
        c,
        '--captioner',
        'ollama',
        '--host',
        `http://127.0.0.1:${c.port}/garbage`,
        '--set',
        'caption.retries=0',
        '--set',
        'caption.backoffMs=1',
        '--set',
        'caption.stream=true'
      )
  },
  {
    name: 'run directory is a file (ENOTDIR)',
    exit: 2,
    message: /afile\/run\/captions: not a directory/,
    setup: c => {
      writeFileSync(join(c.dir, 'afile'), 'x')
      return ['caption', c.data, '--run-dir', join(c.dir, 'afile', 'run')]
    }
  },
  {
    name: 'run directory without write permission (uid 65534)',
    exit: 2,
    message: /run\/captions: permission denied/,
    setup: c => {
      mkdirSync(c.run, {recursive: true})
      chmodSync(c.run, 0o755) // owned by us (root): user 65534 may read but not write
      return {args: ['caption', c.data, '--run-dir', c.run], opts: {uid: 65534, gid: 65534, env: {HOME: '/tmp'}}}
    }
  }
]

/** An Ollama look-alike: /junk/* answers HTML; otherwise it lists llava:13b and answers chats with junk. */
function junkOllama(): Promise<{server: Server; port: number}> {
  const server = createServer((req, res) => {
    req.resume() // the request body is not read, only drained so 'end' fires
    req.on('end', () => {
      if (req.url?.startsWith('/junk')) {
        res.writeHead(200, {'content-type': 'text/html'})
        res.end('<html>hello, not ollama</html>')
        return
      }
      if (req.url?.startsWith('/garbage/api/chat')) {
        res.writeHead(200, {'content-type': 'application/x-ndjson'})
        for (let i = 0; i < 20; i++) res.write(`}}} not json ${i} {{{\n`)
        res.end()
        return
      }
      if (req.url?.startsWith('/garbage')) req.url = req.url.slice('/garbage'.length)
      if (req.url === '/api/tags') {
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(JSON.stringify({models: [{name: 'llava:13b', model: 'llava:13b', digest: 'abc'}]}))
        return
      }
      if (req.url === '/api/show') {
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(JSON.stringify({details: {family: 'llava'}, capabilities: ['completion', 'vision']}))
        return
      }
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(
        JSON.stringify({
          model: 'llava:13b',
          message: {role: 'assistant', content: '}}} banana {{{'},
          response: '}}} banana {{{',
          done: true
        })
      )
    })
  })
  return new Promise(resolve =>
    server.listen(0, '127.0.0.1', () => resolve({server, port: (server.address() as {port: number}).port}))
  )
}

describe('reliability: bad inputs (data, weights, services, file system)', function () {
  this.timeout(120_000)
  let dataset = ''
  let ollama: {server: Server; port: number}
  before(async function () {
    this.timeout(120_000)
    const root = tmpDir('medgen-bad-data-')
    chmodSync(root, 0o755)
    dataset = join(root, 'data')
    await mustRun([
      'synth',
      '--n',
      '8',
      '--size',
      '32',
      '--out',
      dataset,
      '--run-dir',
      join(root, 'synth-run'),
      '--seed',
      '3'
    ])
    firstImage = readdirSync(join(dataset, IMG)).sort()[0]
    ollama = await junkOllama()
  })
  after(() => {
    ollama?.server.close()
  })

  for (const c of cases) {
    // switching to uid 65534 needs root; elsewhere that case cannot be staged
    const pending =
      (c.knownBug && !process.env.MEDGEN_RELIABILITY_BUGS) || (c.name.includes('uid 65534') && process.getuid?.() !== 0)
    ;(pending ? it.skip : it)(c.knownBug ? `${c.name} [known bug: ${c.knownBug}]` : c.name, async () => {
      const dir = tmpDir()
      chmodSync(dir, 0o755)
      const data = join(dir, 'data')
      cpSync(dataset, data, {recursive: true})
      const run = join(dir, 'run')
      mkdirSync(join(run, 'keep'), {recursive: true})
      writeFileSync(join(run, 'keep', 'precious.txt'), 'already written')
      const setup = c.setup({dir, data, run, port: ollama.port})
      const {args, opts} = Array.isArray(setup) ? {args: setup, opts: {}} : setup
      const {result} = await expectRefusal(dir, args, {...c, opts})
      c.check?.({dir, data, run, port: ollama.port})
      expect(result.stderr + result.stdout).to.not.match(/invalid json/i) // the ollama client's own console noise
    })
  }

  it('full disk (128 KiB tmpfs): one line, exit 1, the captions already written are intact', async function () {
    const mnt = tmpDir('medgen-full-')
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', mnt], {stdio: 'ignore'})
    } catch {
      console.log('      skipped: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)')
      this.skip()
    }
    try {
      const run = join(mnt, 'run')
      // Caption half the dataset first (a shard), then fill the disk and caption the rest.
      await mustRun(['caption', dataset, '--run-dir', run, '--shard', '0/2'])
      let filler = 0
      try {
        for (;;) writeFileSync(join(mnt, `fill-${filler++}`), Buffer.alloc(4096))
      } catch {
        /* ENOSPC: full */
      }
      await expectRefusal(run, ['caption', dataset, '--run-dir', run, '--shard', '1/2'], {
        exit: [1, 2],
        message: /no space left on device/
      })
    } finally {
      execFileSync('umount', [mnt])
      rmSync(mnt, {recursive: true, force: true})
    }
  })
})
