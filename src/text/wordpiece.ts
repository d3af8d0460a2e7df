// WordPiece tokenizer reproducing transformers' slow BertTokenizer (4.57) exactly:
// PreTrainedTokenizer.tokenize (special tokens split out first, case-sensitively; when
// lower-casing, the rest is lower-cased one code point at a time) -> BasicTokenizer (clean,
// CJK split, NFC, whitespace split, lower + strip accents, punctuation split) -> greedy
// longest-match-first WordPiece with `##` continuations. Semantics are listed in
// test/fixtures/golden/README-text-metrics.md "wordpiece"; the fixture there is the test.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {UserError, describeFsError} from '../errors.js'

export interface WordPieceOptions {
  doLowerCase: boolean
  /** strip accents; undefined follows doLowerCase (transformers' strip_accents=None) */
  stripAccents?: boolean
  maxCharsPerWord?: number
  /** model_max_length from tokenizer_config.json, used when encode() gets no maxLength */
  modelMaxLength?: number
}

export interface Encoding {
  inputIds: number[]
  attentionMask: number[]
  tokenTypeIds: number[]
}

export interface EncodeOptions {
  /** truncate (longest_first for pairs) to this many ids including [CLS]/[SEP] */
  maxLength?: number
  truncation?: boolean
  /** 'max_length' pads to maxLength; 'longest' pads a batch to its longest row; 'none' leaves rows ragged */
  padding?: 'max_length' | 'longest' | 'none'
}

const SPECIAL_TOKENS = ['[UNK]', '[SEP]', '[PAD]', '[CLS]', '[MASK]'] as const

const CONTROL = /^\p{C}$/u
const ZS = /^\p{Zs}$/u
const PUNCT = /^\p{P}$/u
const MN = /\p{Mn}/gu
// Python's str.split() separators that can survive _clean_text (Zs and \t\n\r are already
// spaces and C* chars are gone): line and paragraph separators.
const SPLIT_WS = /[ \u2028\u2029]+/

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ZS.test(ch)
}

function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false
  return CONTROL.test(ch)
}

function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true
  return PUNCT.test(ch)
}

/** CJK Unified Ideographs blocks as listed in BasicTokenizer._is_chinese_char (not kana or hangul). */
function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  )
}

function whitespaceSplit(text: string): string[] {
  const trimmed = text.replace(/^[ \u2028\u2029]+|[ \u2028\u2029]+$/g, '')
  return trimmed ? trimmed.split(SPLIT_WS) : []
}

export class WordPieceTokenizer {
  readonly vocab: Map<string, number>
  readonly idToToken: string[]
  readonly doLowerCase: boolean
  readonly stripAccents: boolean
  readonly maxCharsPerWord: number
  readonly modelMaxLength: number
  readonly padId: number
  readonly unkId: number
  readonly clsId: number
  readonly sepId: number

  constructor(tokens: string[], opts: WordPieceOptions) {
    this.idToToken = tokens
    this.vocab = new Map()
    // load_vocab assigns vocab[token] = index line by line, so a repeated token keeps its last id
    tokens.forEach((t, i) => this.vocab.set(t, i))
    this.doLowerCase = opts.doLowerCase
    this.stripAccents = opts.stripAccents ?? opts.doLowerCase
    this.maxCharsPerWord = opts.maxCharsPerWord ?? 100
    this.modelMaxLength = opts.modelMaxLength ?? 512
    const need = (tok: string): number => {
      const id = this.vocab.get(tok)
      if (id === undefined) throw new UserError(`vocab.txt: special token ${tok} is missing`)
      return id
    }
    this.padId = need('[PAD]')
    this.unkId = need('[UNK]')
    this.clsId = need('[CLS]')
    this.sepId = need('[SEP]')
  }

  /**
   * Loads vocab.txt and tokenizer_config.json (do_lower_case, strip_accents, model_max_length)
   * from a Hugging Face folder. No tokenizer_config.json -> do_lower_case true, the BertTokenizer
   * default that Bio_ClinicalBERT users get (README-text-metrics.md).
   */
  static fromFolder(dir: string, override: Partial<WordPieceOptions> = {}): WordPieceTokenizer {
    const vocabPath = join(dir, 'vocab.txt')
    let text: string
    try {
      text = readFileSync(vocabPath, 'utf8')
    } catch (err) {
      throw describeFsError(err, vocabPath) ?? err
    }
    const lines = text.split('\n')
    if (lines.length && lines[lines.length - 1] === '') lines.pop()
    // transformers' load_vocab keeps each line with only its trailing newline removed (rstrip('\n')).
    const tokens = lines.map(l => l.replace(/\r$/, ''))
    const opts: WordPieceOptions = {doLowerCase: true}
    const cfgPath = join(dir, 'tokenizer_config.json')
    let cfg: Record<string, any> | null = null
    try {
      cfg = JSON.parse(readFileSync(cfgPath, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`${cfgPath}: not valid JSON`)
    }
    if (cfg) {
      if (typeof cfg.do_lower_case === 'boolean') opts.doLowerCase = cfg.do_lower_case
      if (typeof cfg.strip_accents === 'boolean') opts.stripAccents = cfg.strip_accents
      if (typeof cfg.model_max_length === 'number' && cfg.model_max_length < 1e6)
        opts.modelMaxLength = cfg.model_max_length
    }
    return new WordPieceTokenizer(tokens, {...opts, ...override})
  }

  /** tok.tokenize(text): word pieces, special tokens typed in the text kept whole. */
  tokenize(text: string): string[] {
    const out: string[] = []
    for (const chunk of this.splitOnSpecialTokens(text)) {
      if (chunk.special) {
        out.push(chunk.text)
        continue
      }
      const lowered = this.doLowerCase ? lowerPerCodePoint(chunk.text) : chunk.text
      for (const word of this.basicTokenize(lowered)) out.push(...this.wordPiece(word))
    }
    return out
  }

  tokenToId(token: string): number {
    return this.vocab.get(token) ?? this.unkId
  }

  /**
   * tok(a[, b], max_length, truncation, padding): [CLS] a [SEP] (b [SEP]) with token types 0/1.
   * Truncation is on by default (to maxLength, else model_max_length); padding is off by default.
   */
  encode(textA: string, textB?: string | null, opts: EncodeOptions = {}): Encoding {
    let a = this.tokenize(textA).map(t => this.tokenToId(t))
    let b = textB === undefined || textB === null ? null : this.tokenize(textB).map(t => this.tokenToId(t))
    const maxLength = opts.maxLength ?? this.modelMaxLength
    if (opts.truncation ?? true) {
      const special = b ? 3 : 2
      let remove = a.length + (b?.length ?? 0) + special - maxLength
      if (remove > 0) {
        if (!b) {
          // transformers leaves the ids untouched (and logs an error) when it cannot remove enough
          if (a.length > remove) a = a.slice(0, a.length - remove)
        } else {
          // longest_first: one token at a time from the longer sequence; ties cut the second.
          while (remove-- > 0) {
            if (a.length > b.length) a = a.slice(0, -1)
            else b = b.slice(0, -1)
          }
        }
      }
    }
    const inputIds = [this.clsId, ...a, this.sepId]
    const tokenTypeIds = inputIds.map(() => 0)
    if (b) {
      inputIds.push(...b, this.sepId)
      tokenTypeIds.push(...b.map(() => 1), 1)
    }
    const attentionMask = inputIds.map(() => 1)
    const enc = {inputIds, attentionMask, tokenTypeIds}
    if ((opts.padding ?? 'none') === 'max_length') padTo(enc, maxLength, this.padId)
    return enc
  }

  /** Batch encoding with padding to the longest row (the authors' call) or to maxLength. */
  encodeBatch(texts: string[], opts: EncodeOptions = {}): Encoding[] {
    const padding = opts.padding ?? 'longest'
    const rows = texts.map(t =>
      this.encode(t, null, {...opts, padding: padding === 'max_length' ? 'max_length' : 'none'})
    )
    if (padding === 'longest') {
      const longest = Math.max(0, ...rows.map(r => r.inputIds.length))
      for (const r of rows) padTo(r, longest, this.padId)
    }
    return rows
  }

  private splitOnSpecialTokens(text: string): Array<{text: string; special: boolean}> {
    const out: Array<{text: string; special: boolean}> = []
    let start = 0
    let i = 0
    while (i < text.length) {
      const hit = text[i] === '[' ? SPECIAL_TOKENS.find(s => text.startsWith(s, i) && this.vocab.has(s)) : undefined
      if (hit) {
        if (i > start) out.push({text: text.slice(start, i), special: false})
        out.push({text: hit, special: true})
        i += hit.length
        start = i
      } else i++
    }
    if (start < text.length) out.push({text: text.slice(start), special: false})
    return out
  }

  /** BasicTokenizer.tokenize */
  private basicTokenize(text: string): string[] {
    let cleaned = ''
    for (const ch of text) {
      const cp = ch.codePointAt(0)!
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue
      if (isWhitespace(ch)) cleaned += ' '
      else if (isCjk(cp)) cleaned += ` ${ch} `
      else cleaned += ch
    }
    const split: string[] = []
    for (let token of whitespaceSplit(cleaned.normalize('NFC'))) {
      if (!(SPECIAL_TOKENS as readonly string[]).includes(token)) {
        if (this.doLowerCase) token = token.toLowerCase()
        if (this.stripAccents) token = token.normalize('NFD').replace(MN, '')
        split.push(...splitOnPunctuation(token))
      } else split.push(token)
    }
    return whitespaceSplit(split.join(' '))
  }

  /** WordpieceTokenizer.tokenize on one word */
  private wordPiece(word: string): string[] {
    const chars = Array.from(word)
    if (chars.length > this.maxCharsPerWord) return ['[UNK]']
    const pieces: string[] = []
    let start = 0
    while (start < chars.length) {
      let end = chars.length
      let found: string | null = null
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('')
        if (this.vocab.has(sub)) {
          found = sub
          break
        }
        end--
      }
      if (found === null) return ['[UNK]']
      pieces.push(found)
      start = end
    }
    return pieces
  }
}

function splitOnPunctuation(token: string): string[] {
  const out: string[] = []
  let current = ''
  for (const ch of token) {
    if (isPunctuation(ch)) {
      if (current) out.push(current)
      out.push(ch)
      current = ''
    } else current += ch
  }
  if (current) out.push(current)
  return out
}

/**
 * PreTrainedTokenizer.tokenize lower-cases with re.sub(..., '(.+?)') one code point at a time,
 * so context rules such as the Greek final sigma never apply; '.' skips '\n' in Python re.
 */
function lowerPerCodePoint(text: string): string {
  let out = ''
  for (const ch of text) out += ch === '\n' ? ch : ch.toLowerCase()
  return out
}

function padTo(enc: Encoding, length: number, padId: number): void {
  while (enc.inputIds.length < length) {
    enc.inputIds.push(padId)
    enc.attentionMask.push(0)
    enc.tokenTypeIds.push(0)
  }
}
