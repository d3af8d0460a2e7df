// Talking to an Ollama server through the `ollama` npm client, with what the client lacks:
// a per-request timeout (its non-streaming calls take no AbortSignal), HTTP errors turned into
// typed errors before the client reads them, and one-line messages for the mistakes users
// make (server not started, model not pulled).
import {Ollama} from 'ollama'
import {UserError} from '../errors.js'
import {z} from '../io/validate.js'

/** An HTTP error status from the server; 5xx and 429 are worth retrying. */
export class OllamaHttpError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(`HTTP ${status}: ${message}`)
    this.name = 'OllamaHttpError'
  }
}

export class OllamaTimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`)
    this.name = 'OllamaTimeoutError'
  }
}

/** The server broke Ollama's protocol (a streamed line that is not JSON). */
export class OllamaProtocolError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'OllamaProtocolError'
  }
}

/**
 * Checks each line of a streamed NDJSON answer before the ollama client sees it: the client
 * prints "invalid json" to the console for every bad line and carries on (twenty lines of noise
 * for a server streaming garbage); here the first bad line fails the request with one error.
 */
function ndjsonChecker(): {push: (chunk: Uint8Array) => void; end: () => void} {
  const decoder = new TextDecoder('utf-8')
  let pending = ''
  const check = (line: string) => {
    if (line.trim() === '') return
    try {
      JSON.parse(line)
    } catch {
      throw new OllamaProtocolError(`server streamed a line that is not JSON: ${JSON.stringify(line.slice(0, 60))}`)
    }
  }
  return {
    push(chunk) {
      pending += decoder.decode(chunk, {stream: true})
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      lines.forEach(check)
    },
    end() {
      pending += decoder.decode()
      check(pending)
    }
  }
}

/**
 * A fetch that aborts after `timeoutMs` (or when `stop` aborts), and throws OllamaHttpError on
 * non-2xx answers. The timeout covers the whole request including the body: the timer is ours
 * (not AbortSignal.timeout), it holds the controller and the composite signal until the body has
 * been read to its end, and on expiry it both aborts the request and fails the body read. (A
 * composite AbortSignal that nothing references once the headers have arrived can be garbage-
 * collected, and then a server that stalls mid-body hangs the read forever: issue 23, class 6.)
 */
export function fetchWithTimeout(timeoutMs: number, stop?: AbortSignal): typeof fetch {
  return async (input, init = {}) => {
    const controller = new AbortController()
    const signal = AbortSignal.any([controller.signal, ...(init.signal ? [init.signal] : []), ...(stop ? [stop] : [])])
    let timedOut = false
    let bodyReader: ReadableStreamDefaultReader<Uint8Array> | null = null
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort(new OllamaTimeoutError(timeoutMs))
      bodyReader?.cancel(new OllamaTimeoutError(timeoutMs)).catch(() => {})
    }, timeoutMs)
    const finish = () => {
      clearTimeout(timer)
      void signal
    } // `signal` stays reachable until here
    let response: Response
    try {
      response = await fetch(input, {...init, signal})
    } catch (err) {
      finish()
      if (timedOut) throw new OllamaTimeoutError(timeoutMs)
      throw err
    }
    if (!response.ok) {
      let message = response.statusText
      try {
        const text = await response.text()
        try {
          message = (JSON.parse(text) as {error?: string}).error ?? text
        } catch {
          message = text || message
        }
      } catch {
        /* body lost with the connection (or timed out); the status says enough */
      }
      finish()
      throw new OllamaHttpError(response.status, message.slice(0, 200))
    }
    if (!response.body) {
      finish()
      return response
    }
    const reader = response.body.getReader()
    bodyReader = reader
    const ndjson = /ndjson/i.test(response.headers.get('content-type') ?? '') ? ndjsonChecker() : null
    const body = new ReadableStream<Uint8Array>({
      async pull(out) {
        try {
          const {done, value} = await reader.read()
          if (timedOut) throw new OllamaTimeoutError(timeoutMs)
          if (done) {
            ndjson?.end()
            finish()
            out.close()
          } else {
            ndjson?.push(value)
            out.enqueue(value)
          }
        } catch (err) {
          finish()
          if (err instanceof OllamaProtocolError) reader.cancel(err).catch(() => {})
          out.error(timedOut ? new OllamaTimeoutError(timeoutMs) : err)
        }
      },
      cancel(reason) {
        finish()
        return reader.cancel(reason)
      }
    })
    return new Response(body, {status: response.status, statusText: response.statusText, headers: response.headers})
  }
}

export function makeClient(host: string, timeoutMs: number, stop?: AbortSignal): Ollama {
  return new Ollama({host, fetch: fetchWithTimeout(timeoutMs, stop)})
}

/** Errors worth another attempt: lost connections, timeouts, 5xx and 429. */
export function isTransient(err: unknown): boolean {
  if (err instanceof OllamaTimeoutError) return true
  if (err instanceof OllamaHttpError) return err.status >= 500 || err.status === 429
  const e = err as {name?: string; message?: string; cause?: {code?: string}}
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return true
  if (e?.cause?.code) return true // ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, ...
  const msg = String(e?.message ?? '')
  return /fetch failed|terminated|socket|ECONN|network|Did not receive done|Missing body/i.test(msg)
}

/** A short description of an error for logs and failures.jsonl. */
export function describeError(err: unknown): string {
  const e = err as {message?: string; cause?: {code?: string; message?: string}}
  if (e?.cause?.code) return `${e.message ?? 'error'} (${e.cause.code})`
  if ((e as {name?: string})?.name === 'TimeoutError') return 'timed out'
  return String(e?.message ?? err)
    .split('\n')[0]
    .slice(0, 200)
}

function connectionHint(err: unknown): string {
  const code = (err as {cause?: {code?: string}})?.cause?.code
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found'
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable'
    default:
      return err instanceof OllamaTimeoutError ? err.message : describeError(err)
  }
}

export interface ModelInfo {
  /** the name as the server lists it, e.g. `llava:13b` */
  name: string
  digest: string
  family?: string
  parameterSize?: string
  quantization?: string
  capabilities?: string[]
}

/** /api/tags as the documented API answers it; anything else is not an Ollama server we can use. */
const tagsSchema = z.object({
  models: z
    .array(
      z
        .looseObject({name: z.string().optional(), model: z.string().optional(), digest: z.string().optional()})
        .refine(m => m.name !== undefined || m.model !== undefined, 'a model without a name')
    )
    .default([])
})

/** Ollama's own rule: a name without a tag means `:latest`. */
function sameModel(listed: string, wanted: string): boolean {
  const full = (n: string) => (n.includes(':') ? n : `${n}:latest`)
  return full(listed) === full(wanted)
}

/**
 * Before the first image: the server answers (/api/tags), the model is there, and (when the
 * server reports capabilities, /api/show) it accepts images. Any problem is a one-line
 * UserError with the command that fixes it.
 */
export async function checkModel(
  client: Ollama,
  host: string,
  model: string,
  needsVision: boolean
): Promise<ModelInfo> {
  let listed: Awaited<ReturnType<Ollama['list']>>
  try {
    listed = await client.list()
  } catch (err) {
    if (err instanceof OllamaHttpError)
      throw new UserError(`Ollama at ${host} answered /api/tags with ${err.message}; is this an Ollama server?`)
    throw new UserError(`cannot reach Ollama at ${host}: ${connectionHint(err)}; start it with: ollama serve`)
  }
  const tags = tagsSchema.safeParse(listed)
  if (!tags.success) {
    const issue = tags.error.issues[0]
    throw new UserError(
      `Ollama at ${host} answered /api/tags with an unexpected shape (${issue.path.join('.') || 'body'}: ${issue.message}); is this an Ollama server?`
    )
  }
  const entry = tags.data.models.find(m => sameModel(m.name ?? m.model!, model) || sameModel(m.model ?? m.name!, model))
  if (!entry) throw new UserError(`model ${model} not found on ${host}; run: ollama pull ${model}`)
  const info: ModelInfo = {name: entry.name ?? entry.model!, digest: entry.digest ?? ''}
  try {
    const shown = await client.show({model})
    info.family = shown.details?.family
    info.parameterSize = shown.details?.parameter_size
    info.quantization = shown.details?.quantization_level
    info.capabilities = Array.isArray(shown.capabilities)
      ? shown.capabilities.filter(c => typeof c === 'string')
      : undefined
    const digest = (shown as unknown as {digest?: string}).digest
    if (digest) info.digest = digest
  } catch (err) {
    throw new UserError(`Ollama at ${host}: /api/show ${model} failed: ${describeError(err)}`)
  }
  if (needsVision && info.capabilities && info.capabilities.length > 0 && !info.capabilities.includes('vision')) {
    throw new UserError(
      `model ${model} on ${host} does not accept images (capabilities: ${info.capabilities.join(', ')}); use a vision model such as llava:13b`
    )
  }
  return info
}
