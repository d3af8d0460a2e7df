// The items behind eval's swap metrics and the control figure (issue 19): swap triples share one
// seed and differ in exactly one half of the prompt; the control grid is one seed whose rows
// change one anatomy word and whose columns change the colour.
import {expect} from 'chai'
import {controlGridItems, swapItems} from '../../src/stages/generate/items.js'
import {attributeGroups} from '../../src/data/attributes.js'
import {drawSample} from '../../src/data/synth/sample.js'

const anatomyNames = Object.keys(attributeGroups.dermoscopy.anatomy)
const styleNames = Object.keys(attributeGroups.dermoscopy.style)
const same = (a: Record<string, string>, b: Record<string, string>, names: string[]) => names.every(n => a[n] === b[n])

describe('generate: swap triples and the control grid', () => {
  const pool = Array.from({length: 200}, (_, i) => {
    const s = drawSample('dermoscopy', 500 + i, 32)
    return {class: s.className, attributes: s.attributes}
  })
  const classes = [...new Set(pool.map(p => p.class))].sort()

  it('swap triples: base, style twin (anatomy kept, colour changed), anatomy twin (style kept, size changed), one seed each', () => {
    const items = swapItems('dermoscopy', classes, pool, 2, 42)
    const stems = new Map<string, typeof items>()
    for (const it of items)
      stems.set(it.id.replace(/-(base|style|anatomy)$/, ''), [
        ...(stems.get(it.id.replace(/-(base|style|anatomy)$/, '')) ?? []),
        it
      ])
    expect(stems.size).to.equal(classes.length * 2)
    for (const triple of stems.values()) {
      const [base, style, anatomy] = ['base', 'style', 'anatomy'].map(s => triple.find(t => t.id.endsWith(`-${s}`))!)
      expect(new Set(triple.map(t => t.seed)).size).to.equal(1)
      expect(same(base.attributes!, style.attributes!, anatomyNames)).to.equal(true)
      expect(style.attributes!.colour).to.not.equal(base.attributes!.colour)
      expect(same(base.attributes!, anatomy.attributes!, styleNames)).to.equal(true)
      expect(anatomy.attributes!.size).to.not.equal(base.attributes!.size)
      expect(style.prompt).to.include(`of ${base.class}`)
    }
    // deterministic from the run seed
    expect(swapItems('dermoscopy', classes, pool, 2, 42)).to.deep.equal(items)
  })

  it('control grid: 6 rows (size, shape) x 4 colours on one seed, each cell differing from its row and column in one word', () => {
    const items = controlGridItems('dermoscopy', pool, 7)
    expect(items).to.have.length(24)
    expect(new Set(items.map(i => i.seed)).size).to.equal(1)
    const cell = (r: number, c: number) => items.find(i => i.id === `control-r${r}-c${c}`)!.attributes!
    expect([0, 1, 2].map(r => cell(r, 0).size)).to.deep.equal(['small', 'medium', 'large'])
    expect([3, 4, 5].map(r => cell(r, 0).shape)).to.deep.equal(['round', 'oval', 'irregular'])
    expect([0, 1, 2, 3].map(c => cell(0, c).colour)).to.deep.equal([
      'light brown',
      'dark brown',
      'reddish',
      'blue-grey'
    ])
    expect(same(cell(1, 0), cell(1, 3), anatomyNames)).to.equal(true)
  })
})
