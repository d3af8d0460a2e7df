// Prompt templates per dataset kind (paper §2.1, docs/REFERENCE.md §2.2).
// Dermoscopy's free-text prompt is the authors' prompt verbatim, typo included ("border,shape");
// the authors wrote none for Kvasir-SEG or BUSI, so the polyp and ultrasound prompts below are
// medgen's, written in the same spirit: the seed sentence, the attribute list, "start with",
// and the 100-word limit. The structured prompts name the Anatomy attributes (symmetry,
// border, shape) and the Style attributes (colour distribution, texture) separately, as the
// paper describes, and list the values each may take.

import type {AttributeGroups, DatasetKind} from '../data/attributes.js'

/** The llava_llama_3 conversation template's default system prompt (docs/REFERENCE.md §2.2), verbatim. */
export const llavaSystemPrompt =
  'You are a helpful language and vision assistant. You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.'

interface KindPrompts {
  /** the seed sentence (docs/REFERENCE.md §2.1 step 1a: "A dermoscopic image of <class>") */
  seed: (className: string) => string
  /** the free-text prompt; `text` is the seed sentence */
  free: (text: string, className: string) => string
  /** what the image shows, for the structured prompt */
  modality: string
}

export const kindPrompts: Record<DatasetKind, KindPrompts> = {
  dermoscopy: {
    seed: c => `A dermoscopic image of ${c}`,
    // Verbatim from the authors' MyVSG1.py (docs/REFERENCE.md §2.2), including "border,shape".
    free: (text, c) =>
      `${text}. Please describe the dermoscopic image of ${c} using the following visual features: specific color, symmetry, border,shape, texture and dermoscopic patterns. Start with '${text}' and ensure the description does not exceed 100 words.`,
    modality: 'dermoscopic'
  },
  polyp: {
    seed: c => `An endoscopic image of ${c}`,
    free: (text, c) =>
      `${text}. Please describe the endoscopic image of ${c} using the following visual features: specific color, symmetry, border, shape, surface texture and mucosal patterns. Start with '${text}' and ensure the description does not exceed 100 words.`,
    modality: 'endoscopic'
  },
  ultrasound: {
    seed: c => `A breast ultrasound image of ${c}`,
    free: (text, c) =>
      `${text}. Please describe the breast ultrasound image of ${c} using the following visual features: echogenicity, symmetry, margin, shape, echo texture and posterior acoustic features. Start with '${text}' and ensure the description does not exceed 100 words.`,
    modality: 'breast ultrasound'
  }
}

function listAttributes(group: Record<string, readonly string[]>): string {
  return Object.entries(group)
    .map(([name, values]) => `${name} (one of: ${values.join(', ')})`)
    .join('; ')
}

/**
 * The structured prompt: the authors' opening ("{text}. Please describe the ... image of
 * {class} using the following visual features") followed by the two attribute groups and
 * their allowed values. Ollama's `format` schema enforces the same lists.
 */
export function structuredPrompt(kind: DatasetKind, className: string, groups: AttributeGroups): string {
  const p = kindPrompts[kind]
  const text = p.seed(className)
  return (
    `${text}. Please describe the ${p.modality} image of ${className} using the following visual features. ` +
    `Anatomy: ${listAttributes(groups.anatomy)}. ` +
    `Style: ${listAttributes(groups.style)}. ` +
    'Look only at the image; answer with a JSON object that has exactly these fields, each set to one of its listed values.'
  )
}

export function freePrompt(kind: DatasetKind, className: string): string {
  const p = kindPrompts[kind]
  return p.free(p.seed(className), className)
}

/**
 * The authors' acceptance test (docs/REFERENCE.md §2.2) without its endless loop: a free-text
 * caption must start with the seed sentence. Their check also required a leading newline,
 * an artefact of the Llama-3 chat template; medgen trims whitespace first.
 */
export function acceptsFreeCaption(kind: DatasetKind, className: string, caption: string): boolean {
  return caption.trim().startsWith(kindPrompts[kind].seed(className))
}

/** The refinement request (the paper's T5 "simplify" step, done by an Ollama text model). */
export function refinePrompt(caption: string, maxWords: number): string {
  return (
    `Shorten the following description of a medical image to at most ${maxWords} words. ` +
    'Keep its first sentence unchanged and keep every visual attribute it mentions; add nothing. ' +
    `Answer with the shortened description only.\n\n${caption.trim()}`
  )
}
