// The Ollama captioner against a fake Ollama server on 127.0.0.1 (fake-ollama.ts): what the
// requests carry, structured and free modes, streaming, refinement, and fault injection.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {tmpDir} from '../helpers/tmp.js'
import {startFakeOllama, type FakeOllama, type Fault} from './fake-ollama.js'
import {dermoscopyAnswerFor, indexOfImage, makeImageFolder} from './helpers.js'
import {OllamaCaptioner, type OllamaCaptionerOptions} from '../../src/caption/ollama-captioner.js'
import {CaptionStore} from '../../src/stages/caption/store.js'
import {captionAll} from '../../src/stages/caption/runner.js'
import {vocabularies, renderCaption} from '../../src/caption/vocab.js'
import {freePrompt} from '../../src/caption/prompts.js'
import {UserError} from '../../src/errors.js'
import type {CaptionItem} from '../../src/caption/captioner.js'
import type {FailureRecord} from '../../src/caption/records.js'

const sampling = {temperature: 0.8, top_k: 50, top_p: 0.9, num_ctx: 4096, num_predict: 150}

function captionerFor(
  server: FakeOllama,
  stop: AbortController,
  extra: Partial<OllamaCaptionerOptions> = {}
): OllamaCaptioner {
  return new OllamaCaptioner({
    host: server.url,
    model: 'llava:13b',
    mode: 'structured',
    kind: 'dermoscopy',
    vocabulary: vocabularies.dermoscopy,
    sampling,
    seed: 7,
    retries: 3,
    timeoutMs: 2000,
    backoffMs: 5,
    stream: false,
    refine: null,
    stop: stop.signal,
    ...extra
  })
}

async function runAll(
  items: CaptionItem[],
  captioner: OllamaCaptioner,
  stop: AbortController,
  dir: string,
  concurrency = 3
) {
  await captioner.prepare()
  const store = new CaptionStore(join(dir, 'captions.jsonl'), join(dir, 'failures.jsonl'), join(dir, '.state.json'))
  const summary = await captionAll({
    items,
    captioner,
    store,
    configHash: 'h',
    resume: true,
    concurrency,
    label: 'caption',
    stopController: stop
  })
  return {summary, captions: await store.readCaptions(), failures: await store.readFailures()}
}

describe('caption: Ollama captioner against a fake Ollama server', function () {
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
  let items: CaptionItem[]
  let base64: string[]
  let dataDir: string
  before(async () => {
    dataDir = tmpDir()
    items = await makeImageFolder(dataDir, 12)
    base64 = items.map(i => readFileSync(i.image).toString('base64'))
  })

  for (const stream of [false, true]) {
    it(`sends the image, model, options, seed and schema, and renders the validated JSON (${stream ? 'streaming' : 'non-streaming'})`, async () => {
      const server = await startFakeOllama({
        chat: body => JSON.stringify(dermoscopyAnswerFor(indexOfImage(body, base64)))
      })
      try {
        const stop = new AbortController()
        const {summary, captions, failures} = await runAll(items, captionerFor(server, stop, {stream}), stop, tmpDir())
        expect(summary).to.deep.equal({total: 12, kept: 0, captioned: 12, failed: 0})
        expect(failures).to.have.length(0)
        const chats = server.requests.filter(r => r.path === '/api/chat')
        expect(chats).to.have.length(12)
        for (const req of chats) {
          expect(req.body.model).to.equal('llava:13b')
          expect(req.body.stream).to.equal(stream)
          expect(req.body.options).to.deep.equal({seed: 7, ...sampling})
          const user = req.body.messages.find((m: any) => m.role === 'user')
          expect(user.images).to.have.length(1)
          expect(base64).to.include(user.images[0]) // the file's bytes, base64, unchanged
          expect(user.content).to.match(
            /^A dermoscopic image of (mel|nv)\. Please describe the dermoscopic image of \1 using the following visual features\. Anatomy: shape \(one of: round, oval, irregular\)/
          )
          expect(req.body.format.required).to.deep.equal([
            'shape',
            'border',
            'symmetry',
            'size',
            'colour',
            'secondaryColour',
            'texture'
          ])
          expect(req.body.format.properties.colour.enum).to.deep.equal([
            'light brown',
            'dark brown',
            'reddish',
            'blue-grey'
          ])
        }
        expect(server.requests.some(r => r.path === '/api/tags')).to.equal(true)
        expect(server.requests.some(r => r.path === '/api/show' && r.body.model === 'llava:13b')).to.equal(true)
        for (const c of captions) {
          const k = items.findIndex(i => i.id === c.id)
          const attrs = dermoscopyAnswerFor(k)
          const expected = renderCaption('dermoscopy', items[k].className, attrs)
          expect(c).to.deep.include({
            file: items[k].file,
            class: items[k].className,
            split: items[k].split,
            attributes: attrs,
            anatomy: expected.anatomy,
            style: expected.style,
            caption: expected.caption,
            source: 'ollama-structured',
            model: 'llava:13b',
            seed: 7
          })
          expect(c.digest).to.equal('sha256:' + 'ab'.repeat(32))
        }
        expect(captions.map(c => c.id)).to.deep.equal(items.map(i => i.id)) // id order, whatever finished first
      } finally {
        await server.close()
      }
    })
  }

  it('under 500s, dropped connections, timeouts, cut streams, invalid JSON and out-of-vocabulary values, every image ends with exactly one caption or one failure', async () => {
    // Per image, the sequence of faults its attempts meet; `oov`/`junk` are answers, the rest transport faults.
    type Step = Fault | 'oov' | 'junk' | 'ok'
    const plan: Step[][] = [
      ['http500', 'ok'],
      ['drop', 'ok'],
      ['slow', 'ok'],
      ['junk', 'ok'],
      ['oov', 'oov', 'ok'],
      ['http500', 'drop', 'junk', 'ok'],
      ['junk', 'junk', 'junk', 'junk'],
      ['oov', 'junk', 'oov', 'oov'],
      ['http500', 'http500', 'http500', 'http500'],
      ['ok'],
      ['drop-mid-stream', 'ok'],
      ['slow', 'drop', 'ok']
    ]
    const attemptsSeen = new Map<number, number>()
    const stepOfRequest = new WeakMap<object, Step>()
    // Every attempt passes the fault hook first: it advances that image's plan.
    const server = await startFakeOllama({
      slowMs: 700,
      fault: req => {
        if (req.path !== '/api/chat') return null
        const k = indexOfImage(req.body, base64)
        const n = attemptsSeen.get(k) ?? 0
        attemptsSeen.set(k, n + 1)
        const step = plan[k][Math.min(n, plan[k].length - 1)]
        stepOfRequest.set(req.body, step)
        return step === 'ok' || step === 'oov' || step === 'junk' ? null : step
      },
      chat: body => {
        const k = indexOfImage(body, base64)
        const step = stepOfRequest.get(body)
        if (step === 'junk') return '{"shape": "round", "border": '
        if (step === 'oov') return JSON.stringify({...dermoscopyAnswerFor(k), colour: 'purple'})
        return JSON.stringify(dermoscopyAnswerFor(k))
      }
    })
    try {
      const stop = new AbortController()
      const captioner = captionerFor(server, stop, {timeoutMs: 300, stream: true})
      const {summary, captions, failures} = await runAll(items, captioner, stop, tmpDir())
      const ids = [...captions.map(c => c.id), ...failures.map(f => f.id)].sort()
      expect(ids).to.deep.equal(items.map(i => i.id).sort()) // exactly one outcome per image
      expect(failures.map(f => f.id).sort()).to.deep.equal(['img_006', 'img_007', 'img_008'])
      const byId = Object.fromEntries(failures.map(f => [f.id, f])) as Record<string, FailureRecord>
      expect(byId.img_006.reason).to.match(/invalid JSON/)
      expect(byId.img_006.lastAnswer).to.equal('{"shape": "round", "border": ')
      expect(byId.img_007.reason).to.match(/"colour": "purple" is not one of/)
      expect(byId.img_008.reason).to.match(/HTTP 500/)
      for (const f of failures) expect(f.attempts).to.equal(4)
      for (const c of captions) {
        const k = items.findIndex(i => i.id === c.id)
        expect(c.attributes).to.deep.equal(dermoscopyAnswerFor(k)) // never an out-of-vocabulary value
      }
      // A retried invalid answer is asked with the next seed (the same seed would repeat it).
      const seedsOf4 = server.requests
        .filter(r => r.path === '/api/chat' && indexOfImage(r.body, base64) === 4)
        .map(r => r.body.options.seed)
      expect(seedsOf4).to.deep.equal([7, 8, 9])
      expect(captions.find(c => c.id === 'img_004')!.seed).to.equal(9)
      expect(summary).to.deep.include({captioned: 9, failed: 3})
      // Each image was asked exactly as often as its plan says: a slow answer timed out and was retried.
      expect(plan.map((_, k) => attemptsSeen.get(k))).to.deep.equal([2, 2, 2, 2, 3, 4, 4, 4, 4, 1, 2, 3])
    } finally {
      await server.close()
    }
  })

  it("free-text mode sends the authors' prompt verbatim and keeps only answers that start with the seed sentence", async () => {
    const server = await startFakeOllama({
      chat: (body, n) => {
        const k = indexOfImage(body, base64)
        const cls = items[k].className
        return k === 1 && n < 50
          ? 'This image shows a lesion.'
          : `\nA dermoscopic image of ${cls}. The lesion is brown and symmetric.`
      }
    })
    try {
      const stop = new AbortController()
      const {captions, failures} = await runAll(
        items.slice(0, 3),
        captionerFor(server, stop, {mode: 'free', retries: 1}),
        stop,
        tmpDir()
      )
      expect(freePrompt('dermoscopy', 'mel')).to.equal(
        "A dermoscopic image of mel. Please describe the dermoscopic image of mel using the following visual features: specific color, symmetry, border,shape, texture and dermoscopic patterns. Start with 'A dermoscopic image of mel' and ensure the description does not exceed 100 words."
      )
      const chat = server.requests.find(r => r.path === '/api/chat')!
      expect(chat.body.format).to.equal(undefined)
      expect(chat.body.messages[0]).to.deep.equal({
        role: 'system',
        content:
          'You are a helpful language and vision assistant. You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.'
      })
      expect(chat.body.messages[1].content).to.equal(
        freePrompt('dermoscopy', items[indexOfImage(chat.body, base64)].className)
      )
      expect(captions.map(c => c.id)).to.deep.equal(['img_000', 'img_002'])
      expect(captions[0]).to.deep.include({
        caption: 'A dermoscopic image of mel. The lesion is brown and symmetric.',
        attributes: null,
        anatomy: null,
        style: null,
        source: 'ollama-free'
      })
      expect(failures).to.have.length(1)
      expect(failures[0]).to.deep.include({id: 'img_001', attempts: 2})
      expect(failures[0].reason).to.match(/does not start with the seed sentence/)
    } finally {
      await server.close()
    }
  })

  it("refines long captions with a second model through /api/generate (the paper's T5 step), off by default", async () => {
    const long = (cls: string) => `A dermoscopic image of ${cls}. ` + 'The lesion shows a pigment network. '.repeat(20)
    const server = await startFakeOllama({
      models: [
        {name: 'llava:13b', digest: 'sha256:11', capabilities: ['completion', 'vision']},
        {name: 'llama3.2:latest', digest: 'sha256:22'}
      ],
      chat: body => long(items[indexOfImage(body, base64)].className),
      generate: (body, n) =>
        n === 0 ? 'junk that lost the seed sentence' : body.prompt.split('\n\n')[1].split('.')[0] + '. Short.'
    })
    try {
      const stop = new AbortController()
      const {captions} = await runAll(
        items.slice(0, 2),
        captionerFor(server, stop, {mode: 'free', refine: {model: 'llama3.2', aboveWords: 90}}),
        stop,
        tmpDir(),
        1
      )
      const gens = server.requests.filter(r => r.path === '/api/generate')
      expect(gens).to.have.length(2)
      expect(gens[0].body.model).to.equal('llama3.2')
      expect(gens[0].body.prompt).to.match(/^Shorten the following description of a medical image to at most 90 words/)
      expect(captions[0]).to.deep.include({refined: false, caption: long('mel').trim()}) // refinement lost the seed: original kept
      expect(captions[1]).to.deep.include({refined: true, caption: 'A dermoscopic image of nv. Short.'})
      expect(server.requests.some(r => r.path === '/api/show' && r.body.model === 'llama3.2')).to.equal(true)
    } finally {
      await server.close()
    }
  })

  it('server down or model missing: one-line errors naming the host, the model and the fix', async () => {
    const server = await startFakeOllama({models: [{name: 'llava:7b', digest: 'sha256:33', capabilities: ['vision']}]})
    const stop = new AbortController()
    try {
      const err = await captionerFor(server, stop)
        .prepare()
        .then(
          () => null,
          e => e
        )
      expect(err).to.be.instanceOf(UserError)
      expect(err.message).to.equal(`model llava:13b not found on ${server.url}; run: ollama pull llava:13b`)
    } finally {
      await server.close()
    }
    const err = await captionerFor(server, stop)
      .prepare()
      .then(
        () => null,
        e => e
      ) // closed: nothing listens now
    expect(err).to.be.instanceOf(UserError)
    expect(err.message).to.equal(
      `cannot reach Ollama at ${server.url}: connection refused; start it with: ollama serve`
    )
    const textOnly = await startFakeOllama({
      models: [{name: 'llava:13b', digest: 'sha256:44', capabilities: ['completion']}]
    })
    try {
      const e2 = await captionerFor(textOnly, stop)
        .prepare()
        .then(
          () => null,
          e => e
        )
      expect(e2.message).to.match(/^model llava:13b on http:\/\/127\.0\.0\.1:\d+ does not accept images/)
    } finally {
      await textOnly.close()
    }
  })

  it('stops with exit 1 when the server keeps dropping connections, keeping what was captioned', async () => {
    const server = await startFakeOllama({
      chat: body => JSON.stringify(dermoscopyAnswerFor(indexOfImage(body, base64))),
      fault: (req, n) => (req.path === '/api/chat' && n >= 2 ? 'drop' : null)
    })
    try {
      const stop = new AbortController()
      const err = await runAll(items, captionerFor(server, stop, {retries: 1}), stop, tmpDir(), 1).then(
        () => null,
        e => e
      )
      expect(err).to.be.instanceOf(UserError)
      expect(err.exitCode).to.equal(1)
      expect(err.message).to.match(
        /^5 images in a row failed on the connection .*; 2 captions kept in .*captions\.jsonl, 5 images left; rerun the same command to continue$/
      )
    } finally {
      await server.close()
    }
  })
})
