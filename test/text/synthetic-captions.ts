// A run directory with measured-style captions whose attributes are known and drawn
// independently (anatomy words and style words vary separately), plus visual features that
// an ideal visual disentangler would give: the anatomy occupancy vector depends only on
// shape/size/border (and the class), the style mu only on colour/texture (and the class),
// each with noise. Used by the align-text stage test and scripts/align-text-measure.ts.
// anatomyDim 24 lays the anatomy vector out as visual.anatomyVector 'occupancy+shape' does:
// per channel [occupancy, compactness, elongation], the shape terms depending on the shape word.
import {join} from 'node:path'
import {mkdirSync, writeFileSync} from 'node:fs'
import {renderCaption} from '../../src/caption/vocab.js'
import {writeSafetensors} from '../../src/io/safetensors.js'
import {Rng} from '../../src/util/rng.js'

export const SHAPES = ['round', 'oval', 'irregular']
export const COLOURS = ['light brown', 'dark brown', 'reddish', 'blue-grey']
const BORDERS = ['sharp', 'blurred']
const SYMMETRY = ['symmetric', 'asymmetric']
const SIZES = ['small', 'medium', 'large']
const TEXTURES = ['smooth', 'reticular', 'dotted-globular']
const CLASSES = ['bkl', 'mel', 'nv']

function prototypes(rng: Rng, values: readonly string[], d: number, scale: number): Map<string, Float64Array> {
  return new Map(values.map(v => [v, Float64Array.from({length: d}, () => rng.normal() * scale)]))
}

export async function writeSyntheticAlignmentRun(
  runDir: string,
  n: number,
  seed: number,
  opts: {noise?: number; anatomyDim?: 8 | 24} = {}
): Promise<void> {
  const rng = new Rng(seed)
  const d = 8
  const noise = opts.noise ?? 0.3
  const shapeP = prototypes(rng, SHAPES, d, 1.2),
    sizeP = prototypes(rng, SIZES, d, 0.5),
    borderP = prototypes(rng, BORDERS, d, 0.4)
  const colourP = prototypes(rng, COLOURS, d, 1.2),
    textureP = prototypes(rng, TEXTURES, d, 0.5)
  const classA = prototypes(rng, CLASSES, d, 0.3),
    classS = prototypes(rng, CLASSES, d, 0.3)
  const ad = opts.anatomyDim ?? d
  const withShape = ad === 3 * d
  const compactP = withShape ? prototypes(rng, SHAPES, d, 1.5) : null,
    elongP = withShape ? prototypes(rng, SHAPES, d, 1.5) : null
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v))
  const lines: string[] = []
  const ids: string[] = []
  const anatomy = new Float32Array(n * ad)
  const style = new Float32Array(n * d)
  for (let i = 0; i < n; i++) {
    const cls = rng.pick(CLASSES)
    const attrs = {
      shape: rng.pick(SHAPES),
      border: rng.pick(BORDERS),
      symmetry: rng.pick(SYMMETRY),
      size: rng.pick(SIZES),
      colour: rng.pick(COLOURS),
      secondaryColour: 'none',
      texture: rng.pick(TEXTURES)
    }
    const id = `img${String(i).padStart(5, '0')}`
    const u = rng.uniform()
    const split = u < 0.7 ? 'train' : u < 0.8 ? 'val' : 'test'
    const {anatomy: anatomyText, style: styleText, caption} = renderCaption('dermoscopy', cls, attrs)
    lines.push(
      JSON.stringify({
        id,
        file: `${cls}/${id}.png`,
        class: cls,
        split,
        attributes: attrs,
        anatomy: anatomyText,
        style: styleText,
        caption,
        source: 'measured'
      })
    )
    ids.push(id)
    // occupancy: softmax of the anatomy logits -> non-negative, sums to 1 (docs/REFERENCE.md §4.2)
    const logits = Array.from(
      {length: d},
      (_, k) =>
        shapeP.get(attrs.shape)![k] +
        sizeP.get(attrs.size)![k] +
        borderP.get(attrs.border)![k] +
        classA.get(cls)![k] +
        rng.normal() * noise
    )
    const m = Math.max(...logits)
    const e = logits.map(v => Math.exp(v - m))
    const s = e.reduce((a, b) => a + b, 0)
    for (let k = 0; k < d; k++) {
      if (withShape) {
        anatomy[i * ad + 3 * k] = e[k] / s
        anatomy[i * ad + 3 * k + 1] = sigmoid(compactP!.get(attrs.shape)![k] + rng.normal() * noise)
        anatomy[i * ad + 3 * k + 2] = sigmoid(elongP!.get(attrs.shape)![k] + rng.normal() * noise)
      } else anatomy[i * d + k] = e[k] / s
      style[i * d + k] =
        colourP.get(attrs.colour)![k] + textureP.get(attrs.texture)![k] + classS.get(cls)![k] + rng.normal() * noise
    }
  }
  mkdirSync(join(runDir, 'captions'), {recursive: true})
  writeFileSync(join(runDir, 'captions', 'captions.jsonl'), lines.join('\n') + '\n')
  await writeSafetensors(
    join(runDir, 'visual', 'features.safetensors'),
    {
      anatomy: {dtype: 'F32', shape: [n, ad], data: anatomy},
      style: {dtype: 'F32', shape: [n, d], data: style}
    },
    {ids: JSON.stringify(ids), ...(withShape ? {anatomyVector: 'occupancy+shape'} : {})}
  )
}
