// Control against its references (issue 19), on cases with known answers: a generator that draws
// what it is asked scores gain 1, one that ignores the fine-grained prompt scores gain 0, and the
// shuffled reference is the exact expectation over permutations.
import {expect} from 'chai'
import {
  attributeAccuracy,
  controlGain,
  gainOf,
  groupFigures,
  shuffledAccuracy,
  type ScoredImage
} from '../../src/metrics/control-score.js'

const anatomy = ['size'],
  style = ['colour']
const names = [...anatomy, ...style]
const prompts = [
  {class: 'a', size: 'small', colour: 'red'},
  {class: 'a', size: 'large', colour: 'red'},
  {class: 'a', size: 'large', colour: 'brown'},
  {class: 'b', size: 'small', colour: 'brown'},
  {class: 'b', size: 'medium', colour: 'blue'},
  {class: 'b', size: 'large', colour: 'blue'}
]
const wanted = prompts.map(({class: _c, ...a}) => a)

describe('control score: accuracy, shuffled references, gain', () => {
  it('a generator that draws exactly what it is asked scores accuracy 1 and gain 1 against a perfect ceiling', () => {
    const images: ScoredImage[] = prompts.map((p, i) => ({wanted: wanted[i], measured: wanted[i], group: p.class}))
    const acc = groupFigures(attributeAccuracy(images, names), anatomy, style)
    expect(acc.anatomy).to.equal(1)
    expect(acc.style).to.equal(1)
    const shuffled = groupFigures(
      shuffledAccuracy(images, names, im => im.group),
      anatomy,
      style
    )
    // class a: sizes small, large, large -> a measured "large" matches 2 of 3 prompts, "small" 1 of 3
    expect(shuffled.perAttribute.size).to.be.closeTo((1 / 3 + 2 / 3 + 2 / 3 + (1 / 3 + 1 / 3 + 1 / 3)) / 6, 1e-12)
    const gain = controlGain(acc, shuffled, acc)
    expect(gain.anatomy).to.equal(1)
    expect(gain.style).to.equal(1)
  })

  it('a generator that returns one image per class whatever the prompt scores gain 0 (its accuracy is the within-class shuffle)', () => {
    // every image of a class measures as the class's first prompt
    const first = new Map<string, Record<string, string>>()
    for (const [i, p] of prompts.entries()) if (!first.has(p.class)) first.set(p.class, wanted[i])
    const images: ScoredImage[] = prompts.map((p, i) => ({
      wanted: wanted[i],
      measured: first.get(p.class)!,
      group: p.class
    }))
    const acc = groupFigures(attributeAccuracy(images, names), anatomy, style)
    const shuffled = groupFigures(
      shuffledAccuracy(images, names, im => im.group),
      anatomy,
      style
    )
    expect(acc.perAttribute.size).to.be.closeTo(shuffled.perAttribute.size, 1e-12)
    expect(acc.perAttribute.colour).to.be.closeTo(shuffled.perAttribute.colour, 1e-12)
    const ceiling = groupFigures({size: 1, colour: 1}, anatomy, style)
    const gain = controlGain(acc, shuffled, ceiling)
    expect(gain.anatomy).to.be.closeTo(0, 1e-12)
    expect(gain.style).to.be.closeTo(0, 1e-12)
  })

  it('the shuffled expectation equals the mean over every permutation (brute force)', () => {
    const measured = [
      {size: 'large', colour: 'red'},
      {size: 'small', colour: 'red'},
      {size: 'large', colour: 'blue'},
      {size: 'small', colour: 'blue'}
    ]
    const w = [
      {size: 'small', colour: 'red'},
      {size: 'large', colour: 'red'},
      {size: 'large', colour: 'brown'},
      {size: 'large', colour: 'unknown'}
    ]
    const images: ScoredImage[] = measured.map((m, i) => ({wanted: w[i], measured: m, group: 'all'}))
    const exact = shuffledAccuracy(images, names, () => 'all')
    const perms = (xs: number[]): number[][] =>
      xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map(p => [x, ...p]))
    for (const name of names) {
      let sum = 0,
        count = 0
      for (const p of perms([0, 1, 2, 3])) {
        // image i gets prompt p[i]; prompts that are "unknown" are skipped, as the accuracy does
        const scored = measured.map((m, i) => ({wanted: w[p[i]], measured: m, group: 'all'}))
        const a = attributeAccuracy(scored, [name])[name]
        if (a === undefined) continue
        // attributeAccuracy divides by the asked count, which is the same in every permutation
        sum += a
        count++
      }
      expect(exact[name]).to.be.closeTo(sum / count, 1e-12)
    }
  })

  it('gain is undefined when the ceiling is not above the shuffled reference', () => {
    expect(gainOf(0.5, 0.5, 0.51)).to.equal(null)
    expect(gainOf(0.7, 0.5, 0.9)).to.be.closeTo(0.5, 1e-12)
    expect(gainOf(null, 0.5, 0.9)).to.equal(null)
  })
})
