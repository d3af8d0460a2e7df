// The captions.jsonl contract (docs/DEVELOPING.md): what the caption stage writes per image and
// what every reader (align-text, finetune-dit, generate) may rely on. The stage's resumable store
// that writes these lines is src/stages/caption/store.ts.
import {readJsonl} from '../io/atomic.js'
import {z} from '../io/validate.js'
import {staysInside} from '../io/paths.js'

/** One row of captions/captions.jsonl. */
export interface CaptionRecord {
  id: string
  /** image path relative to the dataset folder, e.g. `mel/ISIC_0024310.jpg` */
  file: string
  class: string
  split: string
  /** attribute name -> vocabulary value; null in free-text mode (the authors' prompt) */
  attributes: Record<string, string> | null
  /** sentence about symmetry, border and shape (paper §2.1 "Anatomy"); null in free-text mode */
  anatomy: string | null
  /** sentence about colour and texture (paper §2.1 "Style"); null in free-text mode */
  style: string | null
  caption: string
  /** measured | ollama-structured | ollama-free */
  source: string
  model?: string
  digest?: string
  /** attributes that could not be determined (e.g. anatomy without a mask), said so here */
  unknown?: string[]
  /** Ollama seed of the accepted answer */
  seed?: number
  /** true when the refinement model rewrote the caption (the paper's T5 step) */
  refined?: boolean
}

/** One row of captions/failures.jsonl: an image that got no caption, and why. */
export interface FailureRecord {
  id: string
  file: string
  reason: string
  attempts: number
  /** the last answer the model gave, when it was rejected (truncated) */
  lastAnswer?: string
}

/** An image id as a caption line holds it (a number in a hand-made file is read as its digits). */
export const idSchema = z.union([z.string().min(1), z.number().transform(String)])

/**
 * What every reader of a captions.jsonl line may rely on (the contract in docs/DEVELOPING.md):
 * `id` and `caption` are required; the other fields, when present, have their documented types.
 */
export const captionLineSchema = z.looseObject({
  id: idSchema,
  caption: z.string(),
  file: z.string().refine(staysInside, 'must be a relative path inside the dataset folder').optional(),
  class: z.string().min(1).optional(),
  split: z.string().optional(),
  attributes: z.record(z.string(), z.string()).nullable().optional(),
  anatomy: z.string().nullable().optional(),
  style: z.string().nullable().optional(),
  source: z.string().optional()
})
export type CaptionLine = z.output<typeof captionLineSchema>

/** captions.jsonl lines, validated (one UserError naming file:line for a bad one). */
export async function readCaptionLines(path: string): Promise<CaptionLine[]> {
  return readJsonl(path, captionLineSchema, 'caption')
}
