// A small HTTP server on 127.0.0.1 that speaks Ollama's REST API as documented
// (docs/api.md: /api/tags, /api/show, /api/chat, /api/generate; non-streaming JSON and
// streaming NDJSON; `images` as base64 in the chat message) and injects faults on demand:
// 500s, dropped connections, slow answers, connections dropped mid-stream. It records every
// request so tests can assert what medgen sent.
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo, Socket} from 'node:net'

export type Fault =
  | 'http500'
  | 'drop'
  | 'slow'
  | 'drop-mid-stream'
  /** headers and part of the body, then nothing (the connection stays open) */
  | 'stall-mid-body'
  /** a 200 NDJSON stream of twenty lines that are not JSON */
  | 'garbage-ndjson'

export interface RecordedRequest {
  method: string
  path: string
  body: any
}

export interface FakeModel {
  name: string
  digest: string
  capabilities?: string[]
}

export interface FakeOllamaOptions {
  models?: FakeModel[]
  /** the assistant's answer to a chat request (structured JSON or free text) */
  chat?: (body: any, n: number) => string
  /** the answer to a generate request */
  generate?: (body: any, n: number) => string
  /** a fault to inject for this request, or null to answer normally */
  fault?: (req: RecordedRequest, n: number) => Fault | null
  /** how long a 'slow' answer takes */
  slowMs?: number
  /** every chat answer waits this long (a model that takes its time) */
  delayMs?: number
}

export interface FakeOllama {
  url: string
  requests: RecordedRequest[]
  close(): Promise<void>
}

const created = '2026-01-01T00:00:00Z'

export async function startFakeOllama(opts: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const models = opts.models ?? [
    {name: 'llava:13b', digest: 'sha256:' + 'ab'.repeat(32), capabilities: ['completion', 'vision']}
  ]
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  let chatCount = 0
  let generateCount = 0

  const server = createServer(async (req, res) => {
    const body = await readBody(req)
    const recorded: RecordedRequest = {method: req.method ?? 'GET', path: req.url ?? '/', body}
    requests.push(recorded)
    const n = recorded.path === '/api/chat' ? chatCount++ : recorded.path === '/api/generate' ? generateCount++ : 0
    const fault = opts.fault?.(recorded, n) ?? null
    if (fault === 'drop') {
      req.socket.destroy()
      return
    }
    if (fault === 'http500') return json(res, 500, {error: 'injected failure'})
    if (fault === 'stall-mid-body') {
      const text = JSON.stringify({
        model: body?.model,
        created_at: created,
        message: {role: 'assistant', content: '{}'},
        done: true
      })
      res.writeHead(200, {
        'content-type': body?.stream === false ? 'application/json' : 'application/x-ndjson',
        'content-length': Buffer.byteLength(text) + 1
      })
      res.write(text.slice(0, 20)) // ... and never the rest
      return
    }
    if (fault === 'garbage-ndjson') {
      res.writeHead(200, {'content-type': 'application/x-ndjson'})
      for (let i = 0; i < 20; i++) res.write(`}}} garbage line ${i} {{{\n`)
      res.end()
      return
    }
    if (fault === 'slow') await delay(opts.slowMs ?? 2000)
    if (opts.delayMs && recorded.path === '/api/chat') await delay(opts.delayMs)
    if (res.destroyed || req.socket.destroyed) return
    switch (recorded.path) {
      case '/api/tags':
        return json(res, 200, {
          models: models.map(m => ({
            name: m.name,
            model: m.name,
            modified_at: created,
            size: 1000,
            digest: m.digest,
            details: {
              format: 'gguf',
              family: 'llama',
              families: ['llama', 'clip'],
              parameter_size: '13B',
              quantization_level: 'Q4_0'
            }
          }))
        })
      case '/api/show': {
        const m = models.find(x => x.name === body?.model || x.name === `${body?.model}:latest`)
        if (!m) return json(res, 404, {error: `model '${body?.model}' not found`})
        return json(res, 200, {
          modelfile: '',
          parameters: '',
          template: '{{ .Prompt }}',
          modified_at: created,
          details: {
            format: 'gguf',
            family: 'llama',
            families: ['llama', 'clip'],
            parameter_size: '13B',
            quantization_level: 'Q4_0'
          },
          model_info: {},
          capabilities: m.capabilities ?? ['completion']
        })
      }
      case '/api/chat': {
        const content = opts.chat?.(body, n) ?? '{}'
        return answer(res, body, fault, content, piece => ({
          model: body.model,
          created_at: created,
          message: {role: 'assistant', content: piece}
        }))
      }
      case '/api/generate': {
        const text = opts.generate?.(body, n) ?? ''
        return answer(res, body, fault, text, piece => ({model: body.model, created_at: created, response: piece}))
      }
      default:
        return json(res, 404, {error: 'not found'})
    }
  })
  server.on('connection', s => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

/** Ollama streams by default: NDJSON chunks, the last with done: true. */
function answer(
  res: ServerResponse,
  body: any,
  fault: Fault | null,
  content: string,
  chunk: (piece: string) => object
): void {
  const stream = body?.stream !== false
  const final = {
    done: true,
    done_reason: 'stop',
    total_duration: 1,
    load_duration: 1,
    prompt_eval_count: 1,
    prompt_eval_duration: 1,
    eval_count: 1,
    eval_duration: 1
  }
  if (!stream) return json(res, 200, {...chunk(content), ...final})
  res.writeHead(200, {'content-type': 'application/x-ndjson'})
  const third = Math.ceil(content.length / 3) || 1
  const pieces = [content.slice(0, third), content.slice(third, 2 * third), content.slice(2 * third)]
  res.write(JSON.stringify({...chunk(pieces[0]), done: false}) + '\n')
  if (fault === 'drop-mid-stream') {
    res.socket?.destroy()
    return
  }
  for (const p of pieces.slice(1)) res.write(JSON.stringify({...chunk(p), done: false}) + '\n')
  res.end(JSON.stringify({...chunk(''), ...final}) + '\n')
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value)
  res.writeHead(status, {'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text)})
  res.end(text)
}

function readBody(req: IncomingMessage): Promise<any> {
  return new Promise(resolve => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      try {
        resolve(text ? JSON.parse(text) : null)
      } catch {
        resolve(text)
      }
    })
    req.on('error', () => resolve(null))
  })
}

function delay(ms: number): Promise<void> {
  return new Promise(r => setTimeout(r, ms))
}
