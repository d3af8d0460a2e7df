import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import {useTestBackend} from '../helpers/backend.js'
import {gaussianKl, l1Loss} from '../../src/losses/basic.js'
import {diceScores, globalDiceLoss, iou} from '../../src/losses/dice.js'
import {sdnetLoss} from '../../src/losses/sdnet.js'
import {stopGradient} from '../../src/losses/stop-gradient.js'
import {linePlotPng, linePlotSvg} from '../../src/util/plot.js'

describe('visual: losses and plots', () => {
  before(async () => {
    await useTestBackend()
  })

  it('KL: -0.5 * sum(1 + logvar - mu^2 - exp(logvar)) per sample, mean over the batch', () => {
    const mu = tf.tensor2d([
      [1, 0],
      [0.5, -2]
    ])
    const logvar = tf.tensor2d([
      [0, 1],
      [-1, 0.5]
    ])
    const perSample = [
      [1, 0, 0, 1],
      [0.5, -2, -1, 0.5]
    ].map(([m1, m2, l1, l2]) => -0.5 * (1 + l1 - m1 * m1 - Math.exp(l1) + (1 + l2 - m2 * m2 - Math.exp(l2))))
    expect(gaussianKl(mu, logvar).dataSync()[0]).to.be.closeTo((perSample[0] + perSample[1]) / 2, 1e-5)
    expect(gaussianKl(tf.zeros([3, 8]) as tf.Tensor2D, tf.zeros([3, 8]) as tf.Tensor2D).dataSync()[0]).to.equal(0)
  })

  it('Dice loss is global over the flattened batch (not a mean of per-image Dice), smoothing 0.1', () => {
    // image 1: perfect on a big lesion; image 2: a tiny lesion missed entirely
    const pred = tf.tensor4d([1, 1, 1, 1, 0, 0, 0, 0], [2, 2, 2, 1])
    const mask = tf.tensor4d([1, 1, 1, 1, 0, 0, 0, 1], [2, 2, 2, 1])
    const global = 1 - (2 * 4 + 0.1) / (4 + 5 + 0.1)
    expect(globalDiceLoss(pred, mask).dataSync()[0]).to.be.closeTo(global, 1e-6)
    const per = diceScores(pred.dataSync() as Float32Array, mask.dataSync() as Float32Array, 2)
    expect(per[0]).to.be.closeTo(1, 1e-6)
    expect(per[1]).to.be.closeTo(0.1 / 1.1, 1e-6)
    expect(iou([1, 1, 0, 0], [1, 0, 1, 0])).to.be.closeTo(1 / 3, 1e-9)
    expect(iou([0, 0], [0, 0])).to.equal(1)
  })

  it('latent regression pulls mu~ toward z without moving z (stop-gradient)', () => {
    const z = tf.tensor2d([[1, 2]])
    const muTilde = tf.tensor2d([[0, 0]])
    const [gz, gm] = tf.grads((a: tf.Tensor, b: tf.Tensor) => l1Loss(b, stopGradient(a)))([z, muTilde])
    expect(Array.from(gz.dataSync())).to.deep.equal([0, 0])
    expect(Array.from(gm.dataSync())).to.deep.equal([-0.5, -0.5])
  })

  it('total = 1 L1 + 0.01 KL + 10 Dice + 1 regression (docs/REFERENCE.md §3.4)', () => {
    const x = tf.fill([1, 2, 2, 3], 0.5) as tf.Tensor4D
    const reco = tf.fill([1, 2, 2, 3], 0.25) as tf.Tensor4D
    const mask = tf.tensor4d([1, 0, 0, 0], [1, 2, 2, 1])
    const lesion = tf.tensor4d([0.5, 0.5, 0, 0], [1, 2, 2, 1])
    const mu = tf.tensor2d([[1, 1]])
    const logvar = tf.tensor2d([[0, 0]])
    const t = sdnetLoss({x, reco, mask, lesion, mu, logvar, z: tf.tensor2d([[2, 2]]), muTilde: tf.tensor2d([[1, 3]])})
    const expected = 0.25 + 0.01 * 1 + 10 * (1 - (2 * 0.5 + 0.1) / (1 + 1 + 0.1)) + 1
    expect(t.total.dataSync()[0]).to.be.closeTo(expected, 1e-5)
  })

  it('linePlotPng draws every series as SVG and renders a PNG of the asked size', async () => {
    const series = [
      {
        name: 'loss',
        points: [
          [1, 3],
          [2, 2],
          [3, 1.5]
        ] as Array<[number, number]>
      },
      {name: 'val <Dice>', points: [[3, 0.8]] as Array<[number, number]>}
    ]
    const svg = linePlotSvg(series, {title: 'curves', logY: true})
    expect(svg).to.include('<polyline').and.include('<circle').and.include('val &lt;Dice&gt;')
    const png = await linePlotPng(series, {width: 300, height: 200})
    const meta = await sharp(png).metadata()
    expect([meta.format, meta.width, meta.height]).to.deep.equal(['png', 300, 200])
  })
})
