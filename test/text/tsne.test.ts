// Exact t-SNE: seeded, keeps well-separated clusters apart, and the figure renders.
import {expect} from 'chai'
import sharp from 'sharp'
import {Rng} from '../../src/util/rng.js'
import {neighbourAgreement, tsne} from '../../src/util/tsne.js'
import {tsneFigureSvg} from '../../src/stages/align-text/tsne-figure.js'

function clusters(perCluster: number, k: number, d: number, seed: number): {x: Float32Array; labels: number[]} {
  const rng = new Rng(seed)
  const centres = Array.from({length: k}, () => rng.normalArray(d, 5))
  const x = new Float32Array(perCluster * k * d)
  const labels: number[] = []
  for (let c = 0; c < k; c++)
    for (let i = 0; i < perCluster; i++) {
      const row = c * perCluster + i
      for (let j = 0; j < d; j++) x[row * d + j] = centres[c][j] + rng.normal() * 0.5
      labels.push(c)
    }
  return {x, labels}
}

describe('t-SNE', () => {
  it('keeps separated clusters apart and is deterministic for a seed', () => {
    const {x, labels} = clusters(25, 3, 10, 1)
    const y = tsne(x, 75, 10, {perplexity: 10, iterations: 300, seed: 4})
    expect(neighbourAgreement(y, labels)).to.be.greaterThan(0.95)
    expect(Array.from(tsne(x, 75, 10, {perplexity: 10, iterations: 300, seed: 4}))).to.deep.equal(Array.from(y))
    expect(Array.from(tsne(x, 75, 10, {perplexity: 10, iterations: 300, seed: 5}))).to.not.deep.equal(Array.from(y))
    expect(y.every(Number.isFinite)).to.equal(true)
  })

  it('mixed labels give neighbour agreement near the label share', () => {
    const {x} = clusters(40, 1, 6, 2)
    const random = Array.from({length: 40}, (_, i) => i % 2)
    const y = tsne(x, 40, 6, {perplexity: 8, iterations: 200, seed: 1})
    expect(neighbourAgreement(y, random)).to.be.within(0.2, 0.8)
  })

  it('draws both modalities and every class in the SVG and renders it', async () => {
    const points = Float64Array.from({length: 8}, (_, i) => i)
    const svg = tsneFigureSvg([
      {
        title: 'after alignment',
        points,
        modality: ['text', 'text', 'visual', 'visual'],
        classes: ['mel', 'nv', 'mel', 'nv']
      }
    ])
    expect(svg.match(/<circle/g)).to.have.length(2 * 2 + 3) // 2 visual points x 2 panels + legend (visual, mel, nv)
    expect(svg).to.contain('after alignment — by class')
    const png = await sharp(Buffer.from(svg)).png().toBuffer()
    expect((await sharp(png).metadata()).width).to.equal(840)
  })
})
