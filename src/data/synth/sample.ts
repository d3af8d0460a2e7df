// One synthetic sample: a class drawn by its dataset frequency, attributes drawn by the
// class rules of src/data/attributes.ts, numeric parameters drawn from the attributes, and
// the image + mask rendered from the parameters. Every step is seeded, so a sample is a
// pure function of (kind, seed, size); attributes can also be given directly
// (`renderAttributes`), which is how eval draws targets for a controllability check.
import {Rng} from '../../util/rng.js'
import {classRules, type Attributes, type DatasetKind, type Weights} from '../attributes.js'
import {drawDermoscopyParams, renderDermoscopy} from './dermoscopy.js'
import {drawPolypParams, renderPolyp} from './polyp.js'
import {drawUltrasoundParams, renderUltrasound} from './ultrasound.js'
import type {Placement} from './shape.js'

export interface SyntheticSample {
  className: string
  attributes: Attributes
  params: unknown
  /** RGB, interleaved, size*size*3 */
  rgb: Uint8Array
  /** 0/1 per pixel */
  mask: Uint8Array
}

export function pickWeighted(weights: Weights, rng: Rng): string {
  const entries = Object.entries(weights).filter(([, w]) => w > 0)
  const total = entries.reduce((s, [, w]) => s + w, 0)
  let u = rng.uniform() * total
  for (const [value, w] of entries) {
    u -= w
    if (u < 0) return value
  }
  return entries[entries.length - 1][0]
}

export function drawClass(kind: DatasetKind, rng: Rng): string {
  return pickWeighted(Object.fromEntries(Object.entries(classRules[kind]).map(([c, r]) => [c, r.frequency])), rng)
}

export function drawAttributes(kind: DatasetKind, className: string, rng: Rng): Attributes {
  const rule = classRules[kind][className]
  if (!rule) throw new Error(`no class rule for ${kind}/${className}`)
  const out: Attributes = {}
  for (const [name, weights] of Object.entries(rule.attributes)) out[name] = pickWeighted(weights, rng)
  // a second colour equal to the first is no second colour: draw again without that value
  if (out.secondaryColour !== undefined && out.secondaryColour === out.colour) {
    const rest = Object.fromEntries(Object.entries(rule.attributes.secondaryColour).filter(([v]) => v !== out.colour))
    out.secondaryColour = Object.keys(rest).length > 0 ? pickWeighted(rest, rng) : 'none'
  }
  return out
}

export function drawParams(
  kind: DatasetKind,
  attributes: Attributes,
  rng: Rng,
  placement: Placement = 'anywhere'
): unknown {
  if (kind === 'dermoscopy') return drawDermoscopyParams(attributes, rng, placement)
  if (kind === 'polyp') return drawPolypParams(attributes, rng, placement)
  return drawUltrasoundParams(attributes, rng, placement)
}

export function renderParams(kind: DatasetKind, params: unknown, size: number): {rgb: Uint8Array; mask: Uint8Array} {
  const rng = new Rng((params as {noiseSeed: number}).noiseSeed)
  if (kind === 'dermoscopy') return renderDermoscopy(params as any, size, rng)
  if (kind === 'polyp') return renderPolyp(params as any, size, rng)
  return renderUltrasound(params as any, size, rng)
}

/** Renders an image with exactly the given attributes (class only labels it). */
export function renderAttributes(
  kind: DatasetKind,
  className: string,
  attributes: Attributes,
  seed: number,
  size: number
): SyntheticSample {
  const rng = new Rng(seed)
  const params = drawParams(kind, attributes, rng)
  return {className, attributes, params, ...renderParams(kind, params, size)}
}

/** Draws class, attributes and parameters from one seed and renders them. */
export function drawSample(
  kind: DatasetKind,
  seed: number,
  size: number,
  placement: Placement = 'anywhere'
): SyntheticSample {
  const rng = new Rng(seed)
  const className = drawClass(kind, rng)
  const attributes = drawAttributes(kind, className, rng)
  const params = drawParams(kind, attributes, rng, placement)
  return {className, attributes, params, ...renderParams(kind, params, size)}
}

/** A second view of the same lesion (HAM10000 has several images per lesion_id): new pose, same attributes. */
export function secondView(kind: DatasetKind, sample: SyntheticSample, seed: number, size: number): SyntheticSample {
  const rng = new Rng(seed)
  const params = structuredClone(sample.params) as any
  // Rotation about the centre keeps the lesion inside the frame (its room was computed
  // from the largest radius), so only the pose, lighting and noise change.
  if (params.shape) params.shape.rotation = rng.range(0, Math.PI)
  if (params.skin) params.skin[0] += rng.range(-3, 3)
  params.noiseSeed = rng.nextUint32()
  return {...sample, params, ...renderParams(kind, params, size)}
}
