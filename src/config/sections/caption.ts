import {section, z} from '../zod-helpers.js'

/** As the ollama client reads a host: `host:port` without a scheme means http. */
function isHttpUrl(host: string): boolean {
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `http://${host}`)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

/** OLLAMA_HOST as the ollama CLI reads it: `host`, `host:port` or a URL; no scheme = http, no port = 11434. */
export function ollamaHostFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.OLLAMA_HOST?.trim()
  if (!raw) return 'http://127.0.0.1:11434'
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`
  try {
    const url = new URL(withScheme)
    // 0.0.0.0 is what a server listens on; a client reaches it on the loopback address.
    if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1'
    if (!url.port && !/:\d+$/.test(raw)) url.port = '11434'
    return url.toString().replace(/\/$/, '')
  } catch {
    return withScheme
  }
}

export const captionSection = section(
  {
    captioner: z
      .enum(['measured', 'ollama'])
      .default('measured')
      .describe('measured = attributes computed from image + mask (no VLM); ollama = LLaVA through Ollama'),
    model: z.string().default('llava:13b').describe('Ollama vision model'),
    // checked here: the ollama client prints a stack trace to the console for a host it cannot parse
    host: z
      .string()
      .refine(isHttpUrl, 'not an http(s) URL, e.g. http://127.0.0.1:11434')
      .default(ollamaHostFromEnv)
      .describe(
        'Ollama server URL; default $OLLAMA_HOST when set (as the ollama CLI reads it), else http://127.0.0.1:11434'
      ),
    mode: z
      .enum(['structured', 'free'])
      .default('structured')
      .describe("structured = JSON schema of attributes; free = the authors' free-text prompt"),
    refineModel: z
      .string()
      .default('')
      .describe("optional second Ollama text model that shortens captions (the paper's T5 step); empty = off"),
    concurrency: z.number().int().min(1).max(64).default(2).describe('captions requested at once'),
    retries: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(3)
      .describe('attempts after an invalid answer or a connection error'),
    timeoutMs: z.number().int().min(100).default(120000).describe('per-request timeout in milliseconds'),
    backoffMs: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('wait after the first connection error or 5xx, doubled after each further one (at most 30 s)'),
    stream: z.boolean().default(false).describe('ask Ollama for a streamed (NDJSON) answer instead of one JSON object'),
    refineAboveWords: z
      .number()
      .int()
      .min(1)
      .default(90)
      .describe('captions longer than this many words go to refineModel (authors: > 120 T5 tokens, about 90 words)'),
    temperature: z.number().min(0).default(0.8).describe('sampling temperature (authors: 0.8)'),
    topK: z.number().int().min(0).default(50).describe('top-k (authors: 50)'),
    topP: z.number().min(0).max(1).default(0.9).describe('top-p (authors: 0.9)'),
    numCtx: z.number().int().min(256).default(4096).describe('context window tokens'),
    numPredict: z.number().int().min(1).default(150).describe('max new tokens (authors: 150)')
  },
  'captioning (paper §2.1, docs/REFERENCE.md §2)'
)
