// Hostile inputs (issue 23), services and reruns: an Ollama server that stalls mid-body
// (class 6: bounded by caption.timeoutMs × attempts), that streams garbage NDJSON (class 9:
// one medgen line, no client-library noise) or answers /api/tags with the wrong shape (class 1);
// and a caption rerun under other settings that fails (class 7: the old captions stay).
import {expect} from 'chai'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {tmpDir} from '../helpers/tmp.js'
import {startFakeOllama, type Fault} from '../caption/fake-ollama.js'
import {dermoscopyAnswerFor, makeImageFolder} from '../caption/helpers.js'
import {OllamaCaptioner} from '../../src/caption/ollama-captioner.js'
import {checkModel, makeClient} from '../../src/caption/ollama-client.js'
import {CaptionStore} from '../../src/stages/caption/store.js'
import {captionAll} from '../../src/stages/caption/runner.js'
import {CaptionFailure, type CaptionItem, type Captioner, type CaptionOutcome} from '../../src/caption/captioner.js'
import {vocabularies} from '../../src/caption/vocab.js'
import {UserError} from '../../src/errors.js'
import {runCaption} from '../../src/stages/caption.js'
import {loadConfig} from '../../src/config/load.js'

const sampling = {temperature: 0.8, top_k: 50, top_p: 0.9, num_ctx: 4096, num_predict: 150}

/** Runs `fn` with console.log/warn/error captured; returns what they printed. */
async function capturingConsole<T>(fn: () => Promise<T>): Promise<{value: T; printed: string[]}> {
  const printed: string[] = []
  const saved = {log: console.log, warn: console.warn, error: console.error}
  console.log =
    console.warn =
    console.error =
      (...args: unknown[]) => {
        printed.push(args.map(String).join(' '))
      }
  try {
    return {value: await fn(), printed}
  } finally {
    Object.assign(console, saved)
  }
}

/** A captioner whose answers we choose: fixed captions, or a lost server (transient failures). */
class ScriptedCaptioner implements Captioner {
  readonly notes = {captioner: 'scripted'}
  constructor(private readonly answer: (item: CaptionItem) => CaptionOutcome | 'server-down') {}
  async prepare(): Promise<void> {}
  async caption(item: CaptionItem): Promise<CaptionOutcome> {
    const a = this.answer(item)
    if (a === 'server-down') throw new CaptionFailure('request failed: fetch failed (ECONNREFUSED)', 3, undefined, true)
    return a
  }
}
const outcome = (caption: string): CaptionOutcome => ({
  attributes: null,
  anatomy: null,
  style: null,
  caption,
  source: 'scripted'
})

describe('hostile inputs: services and reruns (issue 23)', function () {
  this.timeout(120_000)
  let quietBefore: string | undefined
  before(() => {
    quietBefore = process.env.MEDGEN_QUIET
    process.env.MEDGEN_QUIET = '1'
  })
  after(() => {
    if (quietBefore === undefined) delete process.env.MEDGEN_QUIET
    else process.env.MEDGEN_QUIET = quietBefore
  })
  let items: CaptionItem[]
  before(async () => {
    items = await makeImageFolder(tmpDir(), 4)
  })

  async function captionWith(fault: Fault, stream: boolean, timeoutMs: number, retries: number) {
    const server = await startFakeOllama({
      chat: () => JSON.stringify(dermoscopyAnswerFor(0)),
      fault: req => (req.path === '/api/chat' ? fault : null)
    })
    const stop = new AbortController()
    const dir = tmpDir()
    try {
      const captioner = new OllamaCaptioner({
        host: server.url,
        model: 'llava:13b',
        mode: 'structured',
        kind: 'dermoscopy',
        vocabulary: vocabularies.dermoscopy,
        sampling,
        seed: 7,
        retries,
        timeoutMs,
        backoffMs: 5,
        stream,
        refine: null,
        stop: stop.signal
      })
      await captioner.prepare()
      const store = new CaptionStore(join(dir, 'captions.jsonl'), join(dir, 'failures.jsonl'), join(dir, '.state.json'))
      const started = Date.now()
      const {value: summary, printed} = await capturingConsole(() =>
        captionAll({
          items: items.slice(0, 2),
          captioner,
          store,
          configHash: 'h',
          resume: true,
          concurrency: 2,
          label: 'caption',
          stopController: stop,
          maxConsecutiveTransient: 100
        }).catch(e => e as Error)
      )
      return {
        summary,
        printed,
        ms: Date.now() - started,
        failures: await store.readFailures(),
        requests: server.requests.filter(r => r.path === '/api/chat').length
      }
    } finally {
      await server.close()
    }
  }

  for (const stream of [false, true]) {
    it(`class 6: a server that sends headers then stalls mid-body is bounded by timeoutMs × attempts (${stream ? 'streaming' : 'non-streaming'})`, async () => {
      const timeoutMs = 400,
        retries = 1
      const r = await captionWith('stall-mid-body', stream, timeoutMs, retries)
      // every image lost on the connection: the run fails (exit 1), each image's reason recorded
      expect(r.summary).to.be.instanceOf(UserError).and.have.property('exitCode', 1)
      expect((r.summary as Error).message).to.match(
        /^all 2 images failed on the connection \(last: request failed: no answer within 400 ms\)/
      )
      expect(r.requests).to.equal(2 * (retries + 1))
      for (const f of r.failures) expect(f.reason).to.match(/no answer within 400 ms/)
      // two images in parallel, each (retries + 1) attempts of at most timeoutMs (~0.9 s here); the
      // bound leaves room for a loaded machine: before the fix the read never ended at all
      expect(r.ms).to.be.below(20 * (retries + 1) * timeoutMs)
    })
  }

  it('class 9: a server streaming garbage NDJSON gives one reason per image and no "invalid json" console lines', async () => {
    const r = await captionWith('garbage-ndjson', true, 2000, 0)
    expect(
      r.printed.filter(l => /invalid json/i.test(l)),
      r.printed.join('\n')
    ).to.deep.equal([])
    expect(r.printed).to.deep.equal([])
    expect(r.summary).to.include({captioned: 0, failed: 2})
    for (const f of r.failures)
      expect(f.reason).to.match(
        /^Ollama refused the request: server streamed a line that is not JSON: "}}} garbage line 0 \{\{\{"$/
      )
  })

  it('class 1: /api/tags whose models is not a list, or whose entries have no name, is one line naming the host', async () => {
    for (const body of [{models: 'llava:13b'}, {models: [{digest: 'x'}]}, {models: null}, [1, 2]]) {
      const server = createServer((req, res) => {
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(JSON.stringify(body))
      })
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      try {
        const err = await checkModel(makeClient(host, 2000), host, 'llava:13b', true).catch(e => e)
        expect(err, String(err?.stack)).to.be.instanceOf(UserError)
        expect(err.message).to.match(
          new RegExp(
            `^Ollama at ${host} answered /api/tags with an unexpected shape \\(.*\\); is this an Ollama server\\?$`
          )
        )
      } finally {
        server.close()
      }
    }
  })

  it('class 7: a rerun under other settings that fails keeps the old captions.jsonl byte for byte; one that completes replaces it', async () => {
    const dir = tmpDir()
    const store = () =>
      new CaptionStore(join(dir, 'captions.jsonl'), join(dir, 'failures.jsonl'), join(dir, '.state.json'))
    const run = (captioner: Captioner, configHash: string) =>
      captionAll({
        items,
        captioner,
        store: store(),
        configHash,
        resume: true,
        concurrency: 1,
        label: 'caption',
        stopController: new AbortController(),
        maxConsecutiveTransient: 2
      })
    await run(new ScriptedCaptioner(item => outcome(`old caption of ${item.id}`)), 'settings-A')
    const old = readFileSync(join(dir, 'captions.jsonl'), 'utf8')
    expect(old.trim().split('\n')).to.have.length(items.length)

    // settings B: the first image is captioned, then the server goes away
    let calls = 0
    const err = await run(
      new ScriptedCaptioner(item => (calls++ === 0 ? outcome(`new caption of ${item.id}`) : 'server-down')),
      'settings-B'
    ).catch(e => e)
    expect(err).to.be.instanceOf(UserError)
    expect(err.message).to.match(
      /2 images in a row failed on the connection.*captions kept in .*\.captions\.jsonl\.next \(.*captions\.jsonl from the earlier settings is unchanged\)/
    )
    expect(readFileSync(join(dir, 'captions.jsonl'), 'utf8')).to.equal(old)

    // settings B again, server back: resumes the staged caption, then replaces the file once complete
    let resumedCalls = 0
    const summary = await run(
      new ScriptedCaptioner(item => {
        resumedCalls++
        return outcome(`new caption of ${item.id}`)
      }),
      'settings-B'
    )
    expect(summary).to.include({kept: 1, captioned: items.length - 1})
    expect(resumedCalls).to.equal(items.length - 1)
    const now = readFileSync(join(dir, 'captions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(now.map(r => r.caption)).to.deep.equal(items.map(i => `new caption of ${i.id}`).sort())
    expect(readdirSync(dir).filter(f => f.endsWith('.next'))).to.deep.equal([])
    expect(existsSync(join(dir, 'failures.jsonl'))).to.equal(true)
  })

  it('class 7, whole stage: `caption` rerun with Ollama while the server drops every chat keeps captions.jsonl and metadata.csv', async () => {
    const data = tmpDir(),
      runDir = tmpDir()
    await makeImageFolder(data, 4)
    const base = {'data.path': data, 'run.dir': runDir}
    await runCaption(loadConfig({overrides: {...base, 'caption.captioner': 'measured'}}))
    const before = ['captions.jsonl', 'metadata.csv'].map(f => readFileSync(join(runDir, 'captions', f), 'utf8'))
    expect(before[0].trim().split('\n')).to.have.length(4)
    const server = await startFakeOllama({fault: req => (req.path === '/api/chat' ? 'drop' : null)})
    try {
      const err = await runCaption(
        loadConfig({
          overrides: {
            ...base,
            'caption.captioner': 'ollama',
            'caption.host': server.url,
            'caption.retries': 0,
            'caption.backoffMs': 1
          }
        })
      ).catch(e => e)
      expect(err).to.be.instanceOf(UserError)
      expect(err.exitCode).to.equal(1)
      expect(err.message).to.match(
        /^all 4 images failed on the connection .*captions\.jsonl from the earlier settings is unchanged/
      )
    } finally {
      await server.close()
    }
    expect(
      ['captions.jsonl', 'metadata.csv'].map(f => readFileSync(join(runDir, 'captions', f), 'utf8'))
    ).to.deep.equal(before)
  })
})
