import {expect} from 'chai'
import {renderCaption, vocabularies} from '../../src/caption/vocab.js'
import {attributeGroups, attributeNamesOf, classRules, classesOf, datasetKinds} from '../../src/data/attributes.js'
import {drawAttributes, drawClass} from '../../src/data/synth/sample.js'
import {Rng} from '../../src/util/rng.js'

describe('caption: attribute vocabularies and class rules', () => {
  it('renders anatomy, style and the full caption', () => {
    const mel = {
      shape: 'irregular',
      border: 'blurred',
      symmetry: 'asymmetric',
      size: 'large',
      colour: 'dark brown',
      secondaryColour: 'blue-grey',
      texture: 'reticular'
    }
    expect(renderCaption('dermoscopy', 'mel', mel)).to.deep.equal({
      anatomy: 'irregular, asymmetric lesion with blurred border, large',
      style: 'dark brown and blue-grey, reticular network',
      caption:
        'A dermoscopic image of mel. Anatomy: irregular, asymmetric lesion with blurred border, large. Style: dark brown and blue-grey, reticular network.'
    })
    expect(
      vocabularies.polyp.render('polyp', {
        shape: 'oval',
        border: 'sharp',
        symmetry: 'symmetric',
        size: 'small',
        colour: 'pink',
        texture: 'smooth'
      }).caption
    ).to.equal(
      'An endoscopic image of polyp. Anatomy: oval, symmetric polyp with sharp border, small. Style: pink mucosa, smooth surface.'
    )
    expect(
      renderCaption('ultrasound', 'normal', {
        shape: 'none',
        border: 'none',
        symmetry: 'none',
        size: 'none',
        colour: 'none',
        texture: 'high speckle'
      }).caption
    ).to.equal('A breast ultrasound image of normal. Anatomy: no mass. Style: high speckle background.')
    // unknown anatomy (no mask) is left out of the text rather than printed
    expect(
      renderCaption('dermoscopy', 'nv', {
        shape: 'unknown',
        border: 'unknown',
        symmetry: 'unknown',
        size: 'unknown',
        colour: 'light brown',
        secondaryColour: 'none',
        texture: 'smooth'
      }).anatomy
    ).to.equal('lesion of unknown outline')
  })

  it('class rules only use vocabulary values and cover every attribute', () => {
    for (const kind of datasetKinds) {
      for (const [cls, rule] of Object.entries(classRules[kind])) {
        expect(Object.keys(rule.attributes).sort(), `${kind}/${cls}`).to.deep.equal(
          attributeNamesOf(kind).slice().sort()
        )
        for (const [name, weights] of Object.entries(rule.attributes)) {
          const allowed = (attributeGroups[kind].anatomy[name] ??
            attributeGroups[kind].style[name]) as readonly string[]
          for (const value of Object.keys(weights)) expect(allowed, `${kind}/${cls}/${name}`).to.include(value)
        }
      }
    }
    expect(classesOf('dermoscopy')).to.deep.equal(['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc'])
  })

  it('draws HAM10000-like imbalance and the documented dermoscopy rules', () => {
    const rng = new Rng(1)
    const counts: Record<string, number> = {}
    const melMulti: number[] = []
    for (let i = 0; i < 4000; i++) {
      const cls = drawClass('dermoscopy', rng)
      counts[cls] = (counts[cls] ?? 0) + 1
      const a = drawAttributes('dermoscopy', cls, rng)
      expect(a.secondaryColour).not.to.equal(a.colour)
      if (cls === 'mel') melMulti.push(a.secondaryColour !== 'none' ? 1 : 0)
      if (cls === 'vasc') expect(a.colour).to.equal('reddish')
    }
    expect(counts.nv / 4000).to.be.within(0.64, 0.7)
    expect(counts.df / 4000).to.be.within(0.005, 0.02)
    expect(melMulti.reduce((s, v) => s + v, 0) / melMulti.length).to.be.above(0.95) // mel is multi-coloured
  })
})
