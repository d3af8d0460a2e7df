// The classifier trainer: the loss falls and the model beats chance on held-out toy data,
// class-balanced sampling draws classes evenly, and an interrupted-then-resumed run ends with
// the same weights as an uninterrupted one.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {subtleImbalancedSet, toySet} from './helpers.js'
import {classificationReport} from '../../src/metrics/classification.js'
import {nearChance} from '../../src/stages/classify/report.js'
import {predictSet, trainClassifier, type TrainOptions} from '../../src/stages/classify/train.js'
import {epochOrder, subset} from '../../src/stages/classify/batches.js'
import {disposeClassifier, createClassifier, classifierForward} from '../../src/models/classifier/index.js'
import {resnet18Shapes} from '../../src/models/classifier/resnet18.js'
import {Rng} from '../../src/util/rng.js'

const base = (dir: string): TrainOptions => ({
  preset: 'small-cnn',
  numClasses: 3,
  epochs: 4,
  batchSize: 16,
  lr: 3e-3,
  weightDecay: 1e-4,
  balanced: false,
  standardize: false,
  augment: true,
  patience: 10,
  seed: 5,
  dir,
  resume: true,
  checkpointEvery: 1000
})

async function weightsOf(m: {params: Map<string, tf.Variable>}): Promise<number[]> {
  const out: number[] = []
  for (const v of m.params.values()) out.push(...(await v.data()))
  return out
}

describe('classify/train', function () {
  this.timeout(120000)
  before(async () => {
    await useTestBackend()
  })

  it('loss falls and test accuracy beats chance on toy data', async () => {
    const train = toySet(96, 16, 1),
      val = toySet(24, 16, 2),
      test = toySet(30, 16, 3)
    const r = await trainClassifier(train, val, base(tmpDir()))
    expect(r.history.length).to.equal(4)
    expect(r.history[r.history.length - 1].trainLoss).to.be.lessThan(r.history[0].trainLoss)
    const {prob} = await predictSet(r.model, test, 32)
    let correct = 0
    for (let i = 0; i < test.labels.length; i++) {
      const row = Array.from(prob.subarray(i * 3, i * 3 + 3))
      if (row.indexOf(Math.max(...row)) === test.labels[i]) correct++
    }
    console.log(
      `      train loss ${r.history.map(h => h.trainLoss.toFixed(3)).join(' -> ')}; test accuracy ${(correct / 30).toFixed(2)}`
    )
    expect(correct / 30).to.be.greaterThan(0.6)
    disposeClassifier(r.model)
  })

  it('resume after an interruption gives the same weights as an uninterrupted run', async () => {
    const train = toySet(48, 12, 4),
      val = toySet(12, 12, 5)
    const full = await trainClassifier(train, val, {...base(tmpDir()), epochs: 2, checkpointEvery: 3})
    const dir = tmpDir()
    const first = await trainClassifier(train, val, {...base(dir), epochs: 1, checkpointEvery: 3}) // stops after 3 steps, checkpointed
    disposeClassifier(first.model)
    const resumed = await trainClassifier(train, val, {...base(dir), epochs: 2, checkpointEvery: 3})
    expect(resumed.history.length).to.equal(2)
    expect(await weightsOf(resumed.model)).to.deep.equal(await weightsOf(full.model))
    disposeClassifier(full.model)
    disposeClassifier(resumed.model)
  })

  it('on imbalanced data with subtle colour cues, the balanced standardised classifier beats chance clearly; an all-majority predictor sits at chance', async () => {
    const train = subtleImbalancedSet([64, 8, 8], 12, 11),
      val = subtleImbalancedSet([16, 2, 2], 12, 12),
      test = subtleImbalancedSet([10, 10, 10], 12, 13)
    const r = await trainClassifier(train, val, {
      ...base(tmpDir()),
      epochs: 4,
      balanced: true,
      standardize: true,
      patience: 8
    })
    const {prob} = await predictSet(r.model, test, 32)
    disposeClassifier(r.model)
    const yPred = Int32Array.from({length: 30}, (_, i) => {
      const row = Array.from(prob.subarray(i * 3, i * 3 + 3))
      return row.indexOf(Math.max(...row))
    })
    const learned = classificationReport({yTrue: test.labels, yPred, numClasses: 3}).balancedAccuracy
    const majority = classificationReport({
      yTrue: test.labels,
      yPred: new Int32Array(30),
      numClasses: 3
    }).balancedAccuracy
    console.log(
      `      BACC balanced+standardised ${learned.toFixed(3)}, all-majority ${majority.toFixed(3)} (chance 0.333)`
    )
    expect(majority).to.be.closeTo(1 / 3, 1e-9)
    expect(nearChance(majority, 3)).to.equal(true)
    expect(learned).to.be.greaterThan(0.7)
    expect(nearChance(learned, 3)).to.equal(false)
  })

  it('class-balanced sampling draws each class about equally from an imbalanced set', () => {
    const s = toySet(300, 8, 6)
    const imbalanced = subset(
      s,
      [...Array(300).keys()].filter(i => s.labels[i] === 0 || i % 10 === 0)
    )
    const order = epochOrder(imbalanced, 3, 1, 0, true)
    const counts = [0, 0, 0]
    for (const i of order) counts[imbalanced.labels[i]]++
    for (const c of counts) expect(c / order.length).to.be.within(0.25, 0.42)
    const plain = epochOrder(imbalanced, 3, 1, 0, false)
    expect([...plain].sort((a, b) => a - b)).to.deep.equal([...Array(order.length).keys()])
  })

  it('resnet18 preset: torchvision names, forward in train and eval mode, BN running stats update', async () => {
    const shapes = resnet18Shapes(7)
    expect(shapes.filter(s => s.kind === 'conv').length).to.equal(20)
    expect(shapes.some(s => s.name === 'layer3.0.downsample.0.weight')).to.equal(true)
    const m = createClassifier('resnet18', 7, new Rng(1))
    const total = [...m.params.values()].reduce((a, v) => a + v.size, 0)
    expect(total).to.equal(11_180_103) // torchvision resnet18 with a 7-class head: 11,176,512 + 7*512+7 - 1000-class head
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D
    const before = await m.buffers.get('bn1.running_mean')!.data()
    const train = classifierForward(m, x, true)
    expect(train.logits.shape).to.deep.equal([2, 7])
    expect(train.features.shape).to.deep.equal([2, 512])
    const after = await m.buffers.get('bn1.running_mean')!.data()
    expect(Array.from(after)).to.not.deep.equal(Array.from(before))
    const evalOut = classifierForward(m, x, false)
    expect(evalOut.logits.shape).to.deep.equal([2, 7])
    tf.dispose([x, train.logits, train.features, evalOut.logits, evalOut.features])
    disposeClassifier(m)
  })
})
