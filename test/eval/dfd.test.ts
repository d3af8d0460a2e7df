// dfd: Fréchet distance in the classify model's penultimate features, read from
// classify/model.safetensors exactly as `medgen classify` writes it.
import {expect} from 'chai'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {writePngs} from './helpers.js'
import {toySet} from '../classify/helpers.js'
import {trainClassifier, predictSet} from '../../src/stages/classify/train.js'
import {saveClassifyModel, loadClassifyModel} from '../../src/stages/classify/model-file.js'
import {runLayout} from '../../src/run/layout.js'
import {disposeClassifier} from '../../src/models/classifier/index.js'
import {computeDfd} from '../../src/stages/eval/dfd.js'

const toRgb8 = (set: ReturnType<typeof toySet>, i: number) => {
  const px = set.size * set.size * 3
  return Uint8Array.from(set.images.subarray(i * px, (i + 1) * px), v => Math.round(v * 255))
}

describe('eval dfd', function () {
  this.timeout(120000)
  before(async () => {
    await useTestBackend()
  })

  it('same images -> ~0; images of other classes -> larger; the saved model reproduces its features', async () => {
    const runDir = tmpDir()
    const train = toySet(60, 16, 11)
    const r = await trainClassifier(train, null, {
      preset: 'small-cnn',
      numClasses: 3,
      epochs: 2,
      batchSize: 16,
      lr: 3e-3,
      weightDecay: 0,
      balanced: false,
      standardize: false,
      augment: false,
      patience: 5,
      seed: 1,
      dir: join(runDir, 'tmp'),
      resume: false,
      checkpointEvery: 100
    })
    await saveClassifyModel(runLayout(runDir).classify.model, r.model, {
      preset: 'small-cnn',
      classes: ['a', 'b', 'c'],
      imageSize: 16,
      protocol: 'real',
      seed: 1
    })
    const loaded = await loadClassifyModel(runLayout(runDir).classify.model)
    const a = await predictSet(r.model, train, 32),
      b = await predictSet(loaded.model, train, 32)
    expect(Array.from(b.features)).to.deep.equal(Array.from(a.features))
    disposeClassifier(r.model)
    disposeClassifier(loaded.model)

    const set = toySet(30, 16, 12)
    const dir = tmpDir()
    const classOf = (c: number) => [...Array(30).keys()].filter(i => set.labels[i] === c)
    const realFiles = await writePngs(
      join(dir, 'real'),
      [...classOf(0), ...classOf(1)].map(i => toRgb8(set, i)),
      16
    )
    const same = await computeDfd(runDir, {realFiles, genFiles: realFiles}, 8)
    const shifted = await computeDfd(
      runDir,
      {
        realFiles,
        genFiles: await writePngs(
          join(dir, 'gen'),
          classOf(2).map(i => toRgb8(set, i)),
          16
        )
      },
      8
    )
    expect(Math.abs(same.value!)).to.be.lessThan(1e-6)
    expect(shifted.value!).to.be.greaterThan(1e-3)
    expect(shifted.definition).to.match(/penultimate-layer features of the classify model/)
    expect(shifted.classifierSha256).to.match(/^[0-9a-f]{64}$/)
    console.log(`      dfd same set ${same.value!.toExponential(2)}, other class ${shifted.value!.toFixed(4)}`)
  })
})
