// `medgen caption` and `medgen merge captions` as a user runs them (bin/dev.js in a child
// process): the Ollama path against the fake server, one-line errors that write nothing, and
// shards + merge giving the same captions as one unsharded run.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {tmpDir} from '../helpers/tmp.js'
import {startFakeOllama} from './fake-ollama.js'
import {dermoscopyAnswerFor, indexOfImage, makeImageFolder} from './helpers.js'
import {readJsonl} from '../../src/io/atomic.js'
import type {CaptionRecord} from '../../src/caption/records.js'
import type {CaptionItem} from '../../src/caption/captioner.js'

const launcher = fileURLToPath(new URL('./fixtures/run-command.ts', import.meta.url))
const devBin = fileURLToPath(new URL('../../bin/dev.js', import.meta.url))

/** Runs a command class through the launcher, or with `viaBin` the way users do (bin/dev.js). */
function medgen(args: string[], viaBin = false): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise(resolve => {
    const child = spawn(process.execPath, ['--import', 'tsx', viaBin ? devBin : launcher, ...args], {
      env: {...process.env, MEDGEN_QUIET: '1'},
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => {
      stdout += d
    })
    child.stderr.on('data', d => {
      stderr += d
    })
    child.on('exit', code => resolve({code, stdout, stderr}))
  })
}

describe('caption: the medgen caption and merge commands', function () {
  this.timeout(120000)
  let data: string
  let items: CaptionItem[]
  let base64: string[]
  before(async () => {
    data = join(tmpDir(), 'folder-data')
    items = await makeImageFolder(data, 6)
    base64 = items.map(i => readFileSync(i.image).toString('base64'))
  })

  it('captions through Ollama: captions.jsonl, metadata.csv, and a manifest with the model digest and options', async () => {
    const server = await startFakeOllama({
      chat: body => JSON.stringify(dermoscopyAnswerFor(indexOfImage(body, base64)))
    })
    const run = tmpDir()
    try {
      const r = await medgen([
        'caption',
        data,
        '--run-dir',
        run,
        '--captioner',
        'ollama',
        '--host',
        server.url,
        '--seed',
        '5',
        '--set',
        'data.kind=dermoscopy',
        '--set',
        'caption.numPredict=200'
      ])
      expect(r.code, r.stderr).to.equal(0)
      const rows = await readJsonl<CaptionRecord>(join(run, 'captions', 'captions.jsonl'))
      expect(rows.map(x => x.id)).to.deep.equal(items.map(i => i.id))
      const split = JSON.parse(readFileSync(join(run, 'split.json'), 'utf8'))
      for (const row of rows) {
        expect(row.split).to.equal(split.assignments[row.id])
        expect(row.file).to.equal(items.find(i => i.id === row.id)!.file)
      }
      const csv = readFileSync(join(run, 'captions', 'metadata.csv'), 'utf8')
        .trimEnd()
        .split('\n')
      expect(csv[0]).to.equal('file_name,text')
      expect(csv.slice(1)).to.deep.equal(rows.map(x => `${x.file},"${x.caption}"`)) // captions hold commas: quoted
      const manifest = JSON.parse(readFileSync(join(run, 'captions', 'manifest.json'), 'utf8'))
      expect(manifest.status).to.equal('complete')
      expect(manifest.notes).to.deep.include({
        model: 'llava:13b',
        digest: 'sha256:' + 'ab'.repeat(32),
        captioned: 6,
        failed: 0
      })
      expect(manifest.notes.options).to.deep.equal({
        seed: 5,
        temperature: 0.8,
        top_k: 50,
        top_p: 0.9,
        num_ctx: 4096,
        num_predict: 200
      })
      for (const req of server.requests.filter(q => q.path === '/api/chat'))
        expect(req.body.options).to.deep.equal(manifest.notes.options)
      // A second run with the same settings is up to date and asks the server for nothing.
      const before = server.requests.filter(q => q.path === '/api/chat').length
      const again = await medgen([
        'caption',
        data,
        '--run-dir',
        run,
        '--captioner',
        'ollama',
        '--host',
        server.url,
        '--seed',
        '5',
        '--set',
        'data.kind=dermoscopy',
        '--set',
        'caption.numPredict=200'
      ])
      expect(again.code, again.stderr).to.equal(0)
      expect(server.requests.filter(q => q.path === '/api/chat').length).to.equal(before)
    } finally {
      await server.close()
    }
  })

  it('server down, model missing, dataset path wrong: one line, exit 2, nothing written', async () => {
    const server = await startFakeOllama({models: [{name: 'llava:7b', digest: 'sha256:1', capabilities: ['vision']}]})
    const run = tmpDir()
    try {
      const missing = await medgen(['caption', data, '--run-dir', run, '--captioner', 'ollama', '--host', server.url])
      expect(missing.code).to.equal(2)
      expect(missing.stderr).to.equal(
        `medgen: model llava:13b not found on ${server.url}; run: ollama pull llava:13b\n`
      )
    } finally {
      await server.close()
    }
    const down = await medgen(['caption', data, '--run-dir', run, '--captioner', 'ollama', '--host', server.url])
    expect(down.code).to.equal(2)
    expect(down.stderr).to.equal(
      `medgen: cannot reach Ollama at ${server.url}: connection refused; start it with: ollama serve\n`
    )
    const wrong = await medgen(['caption', join(data, 'nope'), '--run-dir', run], true)
    expect(wrong.code).to.equal(2)
    expect(wrong.stderr).to.equal(
      `medgen: dataset folder ${join(data, 'nope')} does not exist; pass the dataset folder (medgen caption <folder>) or set data.path\n`
    )
    expect(existsSync(join(run, 'captions'))).to.equal(false)
    expect(readdirSync(run)).to.deep.equal([])
  })

  it('--shard 0/2 and 1/2 then `merge captions` give the same captions as one unsharded run', async () => {
    const whole = tmpDir()
    const sharded = tmpDir()
    const base = ['--set', 'data.kind=dermoscopy']
    const r = await medgen(['caption', data, '--run-dir', whole, ...base])
    expect(r.code, r.stderr).to.equal(0)
    for (const shard of ['0/2', '1/2']) {
      const s = await medgen(['caption', data, '--run-dir', sharded, '--shard', shard, ...base])
      expect(s.code, s.stderr).to.equal(0)
    }
    const parts = readdirSync(join(sharded, 'captions', 'parts'))
      .filter(n => n.endsWith('.jsonl'))
      .sort()
    expect(parts).to.deep.equal([
      'part-0-of-2.failures.jsonl',
      'part-0-of-2.jsonl',
      'part-1-of-2.failures.jsonl',
      'part-1-of-2.jsonl'
    ])
    const m = await medgen(['merge', 'captions', '--run-dir', sharded])
    expect(m.code, m.stderr).to.equal(0)
    expect(readFileSync(join(sharded, 'captions', 'captions.jsonl'), 'utf8')).to.equal(
      readFileSync(join(whole, 'captions', 'captions.jsonl'), 'utf8')
    )
    expect(readFileSync(join(sharded, 'captions', 'metadata.csv'), 'utf8')).to.equal(
      readFileSync(join(whole, 'captions', 'metadata.csv'), 'utf8')
    )
    // After the merge, the caption stage counts as done for the whole run.
    const after = await medgen(['caption', data, '--run-dir', sharded, ...base])
    expect(after.code, after.stderr).to.equal(0)
    expect(JSON.parse(readFileSync(join(sharded, 'captions', 'manifest.json'), 'utf8')).notes.mergedFrom).to.equal(2) // skipped, not redone
    const rows = await readJsonl<CaptionRecord>(join(sharded, 'captions', 'captions.jsonl'))
    expect(rows.every(x => x.source === 'measured' && x.unknown?.includes('shape'))).to.equal(true)
  })
})
