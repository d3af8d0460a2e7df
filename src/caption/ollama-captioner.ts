// The VLM captioner of paper §2.1: LLaVA served by Ollama. One chat request per image with the
// image as base64 in the message's `images` field. Structured mode (default) sends the
// attribute schema as `format` and renders the caption from the validated JSON; free mode
// sends the authors' prompt (docs/REFERENCE.md §2.2) and keeps the text when it starts with the
// seed sentence. Bounded retries: invalid answers are asked again with the next seed (the
// same seed would give the same answer), transient errors after an exponential backoff.
import {promises as fs} from 'node:fs'
import type {Ollama} from 'ollama'
import {acceptsFreeCaption, freePrompt, llavaSystemPrompt, refinePrompt, structuredPrompt} from './prompts.js'
import {type DatasetKind} from '../data/attributes.js'
import {attributeSchema, parseStructuredAnswer, type CaptionVocabulary} from './structured.js'
import {checkModel, describeError, isTransient, makeClient, type ModelInfo} from './ollama-client.js'
import {
  CaptionFailure,
  CaptionStopped,
  backoffDelay,
  sleep,
  type CaptionItem,
  type CaptionOutcome,
  type Captioner
} from './captioner.js'

/** Ollama's sampling options, named as the REST API names them. */
export interface OllamaSampling {
  temperature: number
  top_k: number
  top_p: number
  num_ctx: number
  num_predict: number
}

export interface OllamaCaptionerOptions {
  host: string
  model: string
  mode: 'structured' | 'free'
  kind: DatasetKind
  vocabulary: CaptionVocabulary
  sampling: OllamaSampling
  /** base seed; attempt k of an image uses seed + k */
  seed: number
  /** further attempts after an invalid answer or a transient error */
  retries: number
  timeoutMs: number
  backoffMs: number
  stream: boolean
  /** second text model that shortens long captions (the paper's T5 step); null = off */
  refine: {model: string; aboveWords: number} | null
  /** aborts requests in flight and waits when the run stops */
  stop?: AbortSignal
}

const maxBackoffMs = 30_000

export class OllamaCaptioner implements Captioner {
  private readonly client: Ollama
  private model: ModelInfo | null = null
  private refineModel: ModelInfo | null = null

  /** attempts after the first, over every image and refinement of this run (the caption's final line) */
  private retriesUsed = 0

  constructor(private readonly opts: OllamaCaptionerOptions) {
    this.client = makeClient(opts.host, opts.timeoutMs, opts.stop)
  }

  async prepare(): Promise<void> {
    this.model = await checkModel(this.client, this.opts.host, this.opts.model, true)
    if (this.opts.refine)
      this.refineModel = await checkModel(this.client, this.opts.host, this.opts.refine.model, false)
  }

  get notes(): Record<string, unknown> {
    const o = this.opts
    return {
      captioner: 'ollama',
      host: o.host,
      mode: o.mode,
      kind: o.kind,
      model: o.model,
      digest: this.model?.digest ?? null,
      modelDetails: this.model,
      options: {seed: o.seed, ...o.sampling},
      retries: o.retries,
      retriesUsed: this.retriesUsed,
      timeoutMs: o.timeoutMs,
      stream: o.stream,
      refine: o.refine ? {...o.refine, digest: this.refineModel?.digest ?? null} : null
    }
  }

  async caption(item: CaptionItem): Promise<CaptionOutcome> {
    let image: string
    try {
      image = (await fs.readFile(item.image)).toString('base64')
    } catch (err) {
      throw new CaptionFailure(`cannot read image: ${describeError(err)}`, 0)
    }
    const o = this.opts
    const structured = o.mode === 'structured'
    const prompt = structured
      ? structuredPrompt(o.kind, item.className, o.vocabulary.groups)
      : freePrompt(o.kind, item.className)
    const format = structured ? attributeSchema(o.vocabulary.groups) : undefined
    let transientFailures = 0
    let lastReason = 'no attempt made'
    let lastAnswer: string | undefined
    let lastTransient = false
    const attempts = o.retries + 1
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) this.retriesUsed++
      if (lastTransient)
        await sleep(backoffDelay(transientFailures, {baseMs: o.backoffMs, maxMs: maxBackoffMs}), o.stop)
      const seed = o.seed + attempt
      let text: string
      try {
        text = await this.chat(prompt, image, format, seed)
      } catch (err) {
        if (o.stop?.aborted) throw new CaptionStopped()
        if (!isTransient(err))
          throw new CaptionFailure(`Ollama refused the request: ${describeError(err)}`, attempt + 1)
        transientFailures++
        lastTransient = true
        lastReason = `request failed: ${describeError(err)}`
        continue
      }
      lastTransient = false
      lastAnswer = text
      if (structured) {
        const parsed = parseStructuredAnswer(text, o.vocabulary.groups)
        if (!parsed.ok) {
          lastReason = `rejected answer: ${parsed.reason}`
          continue
        }
        const rendered = o.vocabulary.render(item.className, parsed.attributes)
        const refined = await this.maybeRefine(item, rendered.caption, seed)
        return {
          attributes: parsed.attributes,
          anatomy: rendered.anatomy,
          style: rendered.style,
          caption: refined.caption,
          source: 'ollama-structured',
          model: o.model,
          digest: this.model?.digest,
          seed,
          ...(o.refine ? {refined: refined.refined} : {})
        }
      }
      const caption = text.trim()
      if (!acceptsFreeCaption(o.kind, item.className, caption)) {
        lastReason = 'rejected answer: does not start with the seed sentence'
        continue
      }
      const refined = await this.maybeRefine(item, caption, seed)
      return {
        attributes: null,
        anatomy: null,
        style: null,
        caption: refined.caption,
        source: 'ollama-free',
        model: o.model,
        digest: this.model?.digest,
        seed,
        ...(o.refine ? {refined: refined.refined} : {})
      }
    }
    throw new CaptionFailure(lastReason, attempts, lastAnswer?.slice(0, 500), lastTransient)
  }

  private async chat(prompt: string, image: string, format: object | undefined, seed: number): Promise<string> {
    const o = this.opts
    const request = {
      model: o.model,
      messages: [
        {role: 'system', content: llavaSystemPrompt},
        {role: 'user', content: prompt, images: [image]}
      ],
      ...(format ? {format} : {}),
      options: {seed, ...o.sampling}
    }
    if (!o.stream) {
      const response = await this.client.chat({...request, stream: false})
      return response.message?.content ?? ''
    }
    let text = ''
    for await (const part of await this.client.chat({...request, stream: true})) text += part.message?.content ?? ''
    return text
  }

  /**
   * The paper's T5 step (docs/REFERENCE.md §2.2): captions longer than `aboveWords` are shortened by
   * a text model. The authors' acceptance test made their T5 output unusable; here a shortened
   * caption is kept when it still starts with the seed sentence, else the original stays.
   */
  private async maybeRefine(
    item: CaptionItem,
    caption: string,
    seed: number
  ): Promise<{caption: string; refined: boolean}> {
    const o = this.opts
    if (!o.refine || caption.split(/\s+/).filter(Boolean).length <= o.refine.aboveWords)
      return {caption, refined: false}
    let transientFailures = 0
    for (let attempt = 0; attempt <= o.retries; attempt++) {
      if (attempt > 0) this.retriesUsed++
      try {
        const request = {
          model: o.refine.model,
          prompt: refinePrompt(caption, o.refine.aboveWords),
          options: {seed, ...o.sampling}
        }
        let text = ''
        if (o.stream) {
          for await (const part of await this.client.generate({...request, stream: true})) text += part.response ?? ''
        } else {
          text = (await this.client.generate({...request, stream: false})).response ?? ''
        }
        text = text.trim()
        return text && acceptsFreeCaption(o.kind, item.className, text)
          ? {caption: text, refined: true}
          : {caption, refined: false}
      } catch (err) {
        if (o.stop?.aborted) throw new CaptionStopped()
        if (!isTransient(err) || attempt === o.retries)
          throw new CaptionFailure(
            `refinement with ${o.refine.model} failed: ${describeError(err)}`,
            attempt + 1,
            undefined,
            isTransient(err)
          )
        transientFailures++
        await sleep(backoffDelay(transientFailures, {baseMs: o.backoffMs, maxMs: maxBackoffMs}), o.stop)
      }
    }
    return {caption, refined: false}
  }
}
