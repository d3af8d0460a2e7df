// Captions rendered from attributes (paper §2.1), in the vocabulary of src/data/attributes.ts.
//   vocabularies[kind].groups            attribute name -> allowed values (for the structured prompt)
//   vocabularies[kind].render(cls, attrs) -> {anatomy, style, caption}
//   renderCaption(kind, cls, attrs)       the same, by kind
// `unknown` and `none` values are left out of the text.
import {NONE, UNKNOWN, attributeGroups, datasetKinds, type Attributes, type DatasetKind} from '../data/attributes.js'
import {kindPrompts} from './prompts.js'
import type {CaptionVocabulary} from './structured.js'

const lesionNoun: Record<DatasetKind, string> = {dermoscopy: 'lesion', polyp: 'polyp', ultrasound: 'mass'}
const borderNoun: Record<DatasetKind, string> = {dermoscopy: 'border', polyp: 'border', ultrasound: 'margin'}
const texturePhrase: Record<string, string> = {
  'smooth': 'smooth, structureless',
  'reticular': 'reticular network',
  'dotted-globular': 'dotted-globular pattern',
  'granular': 'granular surface',
  'low speckle': 'low speckle',
  'high speckle': 'high speckle'
}

const known = (v: string | undefined): v is string => v !== undefined && v !== UNKNOWN && v !== NONE && v !== ''

/** "irregular, asymmetric lesion with blurred border, large" (unknown parts left out). */
export function anatomyText(kind: DatasetKind, a: Attributes): string {
  if (a.shape === NONE) return `no ${lesionNoun[kind]}`
  const adjectives = [a.shape, a.symmetry].filter(known)
  let text = [adjectives.join(', '), lesionNoun[kind]].filter(Boolean).join(' ')
  if (known(a.border)) text += ` with ${a.border} ${borderNoun[kind]}`
  if (known(a.size)) text += `, ${a.size}`
  return adjectives.length === 0 && !known(a.border) && !known(a.size) ? `${lesionNoun[kind]} of unknown outline` : text
}

/** "dark brown and blue-grey, reticular network" / "pink mucosa, smooth surface" / "hypoechoic, high speckle". */
export function styleText(kind: DatasetKind, a: Attributes): string {
  const texture = known(a.texture) ? (texturePhrase[a.texture] ?? a.texture) : ''
  if (kind === 'polyp') {
    const colour = known(a.colour) ? `${a.colour} mucosa` : ''
    return [colour, a.texture === 'smooth' ? 'smooth surface' : texture].filter(Boolean).join(', ')
  }
  if (kind === 'ultrasound') {
    return [known(a.colour) ? a.colour : '', texture + (a.shape === NONE && texture ? ' background' : '')]
      .filter(Boolean)
      .join(', ')
  }
  const colours = [a.colour, a.secondaryColour].filter(known).join(' and ')
  return [colours, texture].filter(Boolean).join(', ')
}

/** The full caption: the authors' seed sentence (docs/REFERENCE.md §2.1), then Anatomy and Style. */
export function renderCaption(
  kind: DatasetKind,
  className: string,
  a: Attributes
): {anatomy: string; style: string; caption: string} {
  const anatomy = anatomyText(kind, a)
  const style = styleText(kind, a)
  const caption = `${kindPrompts[kind].seed(className)}. Anatomy: ${anatomy}. Style: ${style}.`
  return {anatomy, style, caption}
}

export const vocabularies: Record<DatasetKind, CaptionVocabulary> = Object.fromEntries(
  datasetKinds.map(kind => [
    kind,
    {
      groups: attributeGroups[kind],
      render: (className: string, attributes: Attributes) => renderCaption(kind, className, attributes)
    }
  ])
) as Record<DatasetKind, CaptionVocabulary>
