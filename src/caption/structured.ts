// Structured captioning: the attributes as a JSON schema with enumerated values (sent as
// Ollama's `format`), and the check of what comes back. A model may ignore the schema (older
// servers, some models), so the answer is validated here and never trusted.
import type {AttributeGroups} from '../data/attributes.js'

/** What medgen needs from a vocabulary: the attribute lists and the caption renderer. */
export interface CaptionVocabulary {
  groups: AttributeGroups
  /** anatomy text, style text and the full caption rendered from attribute values */
  render(className: string, attributes: Record<string, string>): {anatomy: string; style: string; caption: string}
}

export function attributeNames(groups: AttributeGroups): string[] {
  return [...Object.keys(groups.anatomy), ...Object.keys(groups.style)]
}

/** JSON schema for Ollama's `format`: every attribute required, values from the vocabulary. */
export function attributeSchema(groups: AttributeGroups): Record<string, unknown> {
  const properties: Record<string, unknown> = {}
  for (const [name, values] of [...Object.entries(groups.anatomy), ...Object.entries(groups.style)]) {
    properties[name] = {type: 'string', enum: [...values]}
  }
  return {type: 'object', properties, required: attributeNames(groups), additionalProperties: false}
}

export type ParsedAnswer = {ok: true; attributes: Record<string, string>} | {ok: false; reason: string}

/**
 * Parses and validates a structured answer. Tolerates a Markdown code fence around the JSON and
 * differences of case or surrounding blanks in a value; rejects anything else: invalid JSON, a
 * missing attribute, or a value outside the vocabulary.
 */
export function parseStructuredAnswer(text: string, groups: AttributeGroups): ParsedAnswer {
  const body = text
    .trim()
    .replace(/^```(?:json)?\s*/i, '')
    .replace(/\s*```$/, '')
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return {ok: false, reason: 'invalid JSON'}
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return {ok: false, reason: 'answer is not a JSON object'}
  const answer = value as Record<string, unknown>
  const attributes: Record<string, string> = {}
  for (const [name, allowed] of [...Object.entries(groups.anatomy), ...Object.entries(groups.style)]) {
    const given = answer[name]
    if (given === undefined) return {ok: false, reason: `missing attribute "${name}"`}
    if (typeof given !== 'string') return {ok: false, reason: `attribute "${name}" is not a string`}
    const canonical = allowed.find(v => v.toLowerCase() === given.trim().toLowerCase())
    if (canonical === undefined)
      return {ok: false, reason: `attribute "${name}": "${given.slice(0, 40)}" is not one of ${allowed.join(', ')}`}
    attributes[name] = canonical
  }
  return {ok: true, attributes}
}
