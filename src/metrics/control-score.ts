// Scoring of controllability against its references (docs/DESIGN.md "Metrics", issue 19):
// the accuracy of measured attributes against the prompted ones, what a generator that ignores
// the fine-grained prompt would score (prompts shuffled within class) or every prompt (shuffled
// across all), and the gain on the scale between that and the measurement's own ceiling.
// Pure functions over attribute records, so they are tested on cases with known answers.
import {UNKNOWN, type Attributes} from '../data/attributes.js'

/** One scored image: what its prompt asked for, what was measured, and its permutation group. */
export interface ScoredImage {
  wanted: Attributes
  measured: Attributes
  group: string
}

export type PerAttribute = Record<string, number>

const asked = (v: string | undefined): v is string => v !== undefined && v !== UNKNOWN

/** Fraction of images whose measured value equals the prompted one, per attribute (unknown prompts skipped). */
export function attributeAccuracy(images: ScoredImage[], names: string[]): PerAttribute {
  const out: PerAttribute = {}
  for (const name of names) {
    let correct = 0,
      total = 0
    for (const im of images) {
      if (!asked(im.wanted[name]) || !(name in im.measured)) continue
      total++
      if (im.measured[name] === im.wanted[name]) correct++
    }
    if (total > 0) out[name] = correct / total
  }
  return out
}

/**
 * The accuracy the same measured images get when their prompts are permuted uniformly at random
 * within each group: its exact expectation over all permutations (no sampling noise, so it is
 * deterministic without a seed). Image i receives each prompt of its group with probability
 * 1/n_group, so E[matches] = sum_i (#known prompts of group(i) asking measured_i) / n_group(i), and
 * the number of scored images (those that receive a known prompt) is sum_i known_group(i) / n_group(i).
 * Groups by class give "a generator that reads only the class"; one group "one that reads nothing".
 */
export function shuffledAccuracy(
  images: ScoredImage[],
  names: string[],
  groupOf: (im: ScoredImage) => string
): PerAttribute {
  const out: PerAttribute = {}
  for (const name of names) {
    const counts = new Map<string, Map<string, number>>()
    const known = new Map<string, number>(),
      sizes = new Map<string, number>()
    for (const im of images) {
      const g = groupOf(im)
      sizes.set(g, (sizes.get(g) ?? 0) + 1)
      if (!asked(im.wanted[name])) continue
      const c = counts.get(g) ?? new Map<string, number>()
      c.set(im.wanted[name], (c.get(im.wanted[name]) ?? 0) + 1)
      counts.set(g, c)
      known.set(g, (known.get(g) ?? 0) + 1)
    }
    let matches = 0,
      scored = 0
    for (const im of images) {
      const g = groupOf(im)
      if (!(name in im.measured) || !known.get(g)) continue
      matches += (counts.get(g)!.get(im.measured[name]) ?? 0) / sizes.get(g)!
      scored += known.get(g)! / sizes.get(g)!
    }
    if (scored > 0) out[name] = matches / scored
  }
  return out
}

export function meanOver(values: PerAttribute, names: string[]): number | null {
  const v = names.filter(n => n in values).map(n => values[n])
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null
}

/** Below this span between shuffled and ceiling the gain is not defined (the measurement cannot tell). */
export const minGainSpan = 0.02

/** (accuracy - shuffled) / (ceiling - shuffled): 0 = no control beyond the class, 1 = as controllable as the ceiling. */
export function gainOf(accuracy: number | null, shuffled: number | null, ceiling: number | null): number | null {
  if (accuracy === null || shuffled === null || ceiling === null) return null
  const span = ceiling - shuffled
  return span < minGainSpan ? null : (accuracy - shuffled) / span
}

export interface GroupFigures {
  anatomy: number | null
  style: number | null
  perAttribute: PerAttribute
}

export function groupFigures(perAttribute: PerAttribute, anatomy: string[], style: string[]): GroupFigures {
  return {anatomy: meanOver(perAttribute, anatomy), style: meanOver(perAttribute, style), perAttribute}
}

export interface Gain {
  anatomy: number | null
  style: number | null
  perAttribute: Record<string, number | null>
}

export function controlGain(accuracy: GroupFigures, shuffled: GroupFigures, ceiling: GroupFigures): Gain {
  const perAttribute: Record<string, number | null> = {}
  for (const name of Object.keys(accuracy.perAttribute)) {
    perAttribute[name] = gainOf(
      accuracy.perAttribute[name],
      shuffled.perAttribute[name] ?? null,
      ceiling.perAttribute[name] ?? null
    )
  }
  return {
    anatomy: gainOf(accuracy.anatomy, shuffled.anatomy, ceiling.anatomy),
    style: gainOf(accuracy.style, shuffled.style, ceiling.style),
    perAttribute
  }
}
