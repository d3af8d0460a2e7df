// Interruptions: a captioning process killed with SIGKILL mid-run loses nothing already
// written, and a rerun completes the set with no duplicates; SIGTERM stops cleanly with 75.
import {expect} from 'chai'
import {spawn, type ChildProcess} from 'node:child_process'
import {readFileSync, writeFileSync, existsSync, appendFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {tmpDir} from '../helpers/tmp.js'
import {startFakeOllama} from './fake-ollama.js'
import {dermoscopyAnswerFor, indexOfImage, makeImageFolder} from './helpers.js'
import {readJsonl} from '../../src/io/atomic.js'
import type {CaptionRecord} from '../../src/caption/records.js'
import type {CaptionItem} from '../../src/caption/captioner.js'

const script = fileURLToPath(new URL('./fixtures/caption-items.ts', import.meta.url))

function runChild(args: string[]): {
  child: ChildProcess
  done: Promise<{code: number | null; signal: string | null; stdout: string; stderr: string}>
} {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    env: {...process.env, MEDGEN_QUIET: '1'},
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', d => {
    stdout += d
  })
  child.stderr!.on('data', d => {
    stderr += d
  })
  const done = new Promise<{code: number | null; signal: string | null; stdout: string; stderr: string}>(resolve =>
    child.on('exit', (code, signal) => resolve({code, signal, stdout, stderr}))
  )
  return {child, done}
}

function lineCount(path: string): number {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(l => l.trim()).length
    : 0
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting')
    await new Promise(r => setTimeout(r, 20))
  }
}

describe('caption: interrupted runs', function () {
  this.timeout(60000)
  let items: CaptionItem[]
  let base64: string[]
  let itemsFile: string
  before(async () => {
    const dir = tmpDir()
    items = await makeImageFolder(join(dir, 'data'), 16)
    base64 = items.map(i => readFileSync(i.image).toString('base64'))
    itemsFile = join(dir, 'items.json')
    writeFileSync(itemsFile, JSON.stringify(items))
  })

  it('SIGKILL after k captions, then a rerun: every image captioned exactly once, earlier captions untouched', async () => {
    const server = await startFakeOllama({
      delayMs: 60,
      chat: body => JSON.stringify(dermoscopyAnswerFor(indexOfImage(body, base64)))
    })
    const out = tmpDir()
    const captionsPath = join(out, 'captions.jsonl')
    try {
      const first = runChild([itemsFile, server.url, out, '2'])
      await waitFor(() => lineCount(captionsPath) >= 5, 30000)
      first.child.kill('SIGKILL')
      const killed = await first.done
      expect(killed.signal).to.equal('SIGKILL')
      const before = readFileSync(captionsPath, 'utf8')
      const keptIds = before
        .split('\n')
        .filter(l => l.trim())
        .map(l => JSON.parse(l).id as string)
      expect(keptIds.length).to.be.within(5, 15)
      // A kill in the middle of an append leaves a torn line; the rerun must cope with it.
      appendFileSync(captionsPath, '{"id": "img_0')
      const chatsBefore = server.requests.filter(r => r.path === '/api/chat').length
      const second = runChild([itemsFile, server.url, out, '2'])
      const result = await second.done
      expect(result.code, result.stderr).to.equal(0)
      expect(JSON.parse(result.stdout)).to.deep.include({
        total: 16,
        kept: keptIds.length,
        captioned: 16 - keptIds.length,
        failed: 0
      })
      const rows = await readJsonl<CaptionRecord>(captionsPath)
      expect(rows.map(r => r.id)).to.deep.equal(items.map(i => i.id)) // all, once each, in id order
      for (const r of rows) expect(r.attributes).to.deep.equal(dermoscopyAnswerFor(items.findIndex(i => i.id === r.id)))
      // The rerun asked only for the images without a caption.
      const asked = server.requests
        .filter(r => r.path === '/api/chat')
        .slice(chatsBefore)
        .map(r => items[indexOfImage(r.body, base64)].id)
      expect(asked.sort()).to.deep.equal(
        items
          .map(i => i.id)
          .filter(id => !keptIds.includes(id))
          .sort()
      )
    } finally {
      await server.close()
    }
  })

  it('SIGTERM stops new requests and exits 75 (requeue) with a one-line message; the rerun finishes', async () => {
    const server = await startFakeOllama({
      delayMs: 80,
      chat: body => JSON.stringify(dermoscopyAnswerFor(indexOfImage(body, base64)))
    })
    const out = tmpDir()
    const captionsPath = join(out, 'captions.jsonl')
    try {
      const first = runChild([itemsFile, server.url, out, '1'])
      await waitFor(() => lineCount(captionsPath) >= 3, 30000)
      first.child.kill('SIGTERM')
      const stopped = await first.done
      expect(stopped.code).to.equal(75)
      const lines = stopped.stderr.trim().split('\n')
      expect(lines).to.have.length(1)
      expect(lines[0]).to.match(
        /^medgen: stopped by SIGTERM; \d+ captions kept in .*captions\.jsonl, \d+ images left; rerun the same command to continue$/
      )
      const second = await runChild([itemsFile, server.url, out, '3']).done
      expect(second.code, second.stderr).to.equal(0)
      const rows = await readJsonl<CaptionRecord>(captionsPath)
      expect(rows.map(r => r.id)).to.deep.equal(items.map(i => i.id))
    } finally {
      await server.close()
    }
  })
})
