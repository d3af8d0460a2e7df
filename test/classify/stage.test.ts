// `medgen classify` end to end on synthetic dermoscopy data (tiny sizes): the real and
// real+synthetic protocols both train and test on the real test split, the table and
// metrics.json carry per-seed values, a rerun is skipped, and missing samples are named.
import {expect} from 'chai'
import {promises as fs, existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {loadConfig} from '../../src/config/load.js'
import {runStage} from '../../src/stages/stage.js'
import {classifyStage} from '../../src/stages/classify.js'
import {synthesize} from '../../src/data/synth/write.js'
import {drawSample} from '../../src/data/synth/sample.js'
import {appendLineDurable} from '../../src/io/atomic.js'
import {loadClassifyModel} from '../../src/stages/classify/model-file.js'
import {runLayout} from '../../src/run/layout.js'
import {disposeClassifier} from '../../src/models/classifier/index.js'

/** Stand-in generator output: other synth draws written as samples/<class>/<id>.png + manifest. */
export async function fakeSamples(runDir: string, n: number, size: number, seed: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const s = drawSample('dermoscopy', seed + i, size)
    const id = `gen-${i}`
    const file = `samples/${s.className}/${id}.png`
    await fs.mkdir(join(runDir, 'samples', s.className), {recursive: true})
    await sharp(Buffer.from(s.rgb), {raw: {width: size, height: size, channels: 3}})
      .png()
      .toFile(join(runDir, file))
    await appendLineDurable(
      join(runDir, 'samples', 'manifest.jsonl'),
      JSON.stringify({
        id,
        file,
        class: s.className,
        prompt: 'test',
        seed: seed + i,
        sampler: 'test',
        steps: 0,
        guidance: 0,
        seconds: 0,
        source: 'test',
        attributes: s.attributes
      })
    )
  }
}

describe('classify stage (synthetic dermoscopy)', function () {
  this.timeout(300000)
  before(async () => {
    await useTestBackend()
  })

  it('real vs real+synthetic run end to end; table and metrics.json with per-seed values; rerun skipped', async () => {
    const runDir = tmpDir()
    const data = join(runDir, 'data')
    await synthesize({kind: 'dermoscopy', n: 120, size: 24, out: data, seed: 3})
    await fakeSamples(runDir, 40, 24, 1000)
    const configSets = [
      `run.dir=${runDir}`,
      'data.imageSize=24',
      'data.testFraction=0.25',
      'classify.seeds=2',
      'classify.epochs=2',
      'classify.batchSize=16',
      'classify.syntheticRatio=0.5',
      'classify.checkpointEvery=3'
    ]
    const config = loadConfig({sets: configSets})
    const first = await runStage(classifyStage, config)
    expect(first.skipped).to.equal(false)
    const metrics = JSON.parse(readFileSync(join(runDir, 'classify', 'metrics.json'), 'utf8'))
    expect(Object.keys(metrics.protocols)).to.deep.equal(['real', 'real+synthetic'])
    for (const p of ['real', 'real+synthetic']) {
      const seeds = metrics.protocols[p].seeds
      expect(seeds.map((s: any) => s.seed)).to.deep.equal([config.run.seed, config.run.seed + 1])
      for (const s of seeds) {
        expect(s.report.n).to.equal(metrics.nTest)
        expect(s.report.f1Weighted).to.be.within(0, 1)
        expect(s.report.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0)).to.equal(metrics.nTest)
      }
      expect(metrics.protocols[p].summary.f1Weighted.perSeed).to.have.length(2)
      expect(existsSync(join(runDir, 'classify', `confusion-${p.replace('+', '-plus-')}.png`))).to.equal(true)
    }
    const mixed = metrics.protocols['real+synthetic'].seeds[0]
    const added = Object.values<number>(mixed.syntheticPerClass).reduce((a, b) => a + b, 0)
    expect(
      added,
      JSON.stringify({nTrain: metrics.nTrain, perClass: mixed.syntheticPerClass, pool: metrics.nSyntheticPool})
    ).to.equal(Math.min(metrics.nSyntheticPool, Math.round(0.5 * metrics.nTrain)))
    expect(mixed.trainImages).to.equal(metrics.nTrain + added)
    expect(metrics.definitions.f1Weighted).to.match(/support-weighted/)
    // the test-set interval: each protocol's pooled BACC is the mean recall of its summed confusion
    // matrix, and the difference is taken against real on the same resamples
    const boot = metrics.testSetBootstrap
    expect(boot.reference).to.equal('real')
    for (const p of ['real', 'real+synthetic']) {
      const cm: number[][] = metrics.protocols[p].confusionMatrixSummed
      const present = cm
        .map(r => r.reduce((a, b) => a + b, 0))
        .map((n, c) => [n, c])
        .filter(([n]) => n > 0)
      const pooled = present.reduce((a, [n, c]) => a + cm[c][c] / n, 0) / present.length
      expect(boot.protocols[p].value).to.be.closeTo(pooled, 1e-9)
      expect(boot.protocols[p].lo).to.be.at.most(boot.protocols[p].value)
      expect(boot.protocols[p].hi).to.be.at.least(boot.protocols[p].value)
    }
    expect(boot.differences['real+synthetic'].value).to.be.closeTo(
      boot.protocols['real+synthetic'].value - boot.protocols.real.value,
      1e-12
    )
    expect(boot.differences.real).to.equal(undefined)
    const table = readFileSync(join(runDir, 'classify', 'table.md'), 'utf8')
    expect(table).to.match(/\| real \| [0-9.]+ ± [0-9.]+ \|/)
    expect(table).to.match(/\| real\+synthetic \| 43 \|/)
    expect(table).to.match(
      /\| real\+synthetic \| [0-9.]+ \[[0-9.]+, [0-9.]+\] \| -?[0-9.]+ \[-?[0-9.]+, -?[0-9.]+\] \|/
    )
    console.log(
      table
        .split('\n')
        .filter(l => l.startsWith('| real'))
        .map(l => '      ' + l)
        .join('\n')
    )
    const png = await sharp(join(runDir, 'classify', 'confusion-real.png')).metadata()
    expect(png.format).to.equal('png')
    // The dfd feature extractor is there and loads.
    const {model, info} = await loadClassifyModel(runLayout(runDir).classify.model)
    expect(info.classes).to.deep.equal(metrics.classes)
    disposeClassifier(model)
    const again = await runStage(classifyStage, config)
    expect(again.skipped).to.equal(true)
    // A changed classify config retrains every seed instead of returning the results it cached
    // (result.json carries the fingerprint of what it was trained on); new generated samples retrain
    // only the protocols that read them.
    const seedResult = (p: string, i: number) =>
      JSON.parse(readFileSync(runLayout(runDir).classify.seedRun(p, i).result, 'utf8'))
    const before = seedResult('real', 0)
    const smaller = loadConfig({sets: [...configSets, 'classify.imageSize=16']})
    expect((await runStage(classifyStage, smaller)).skipped).to.equal(false)
    const after = seedResult('real', 0)
    expect(after.fingerprint).to.not.equal(before.fingerprint)
    expect(JSON.parse(readFileSync(join(runDir, 'classify', 'metrics.json'), 'utf8')).imageSize).to.equal(16)
    const realFingerprint = after.fingerprint,
      mixedFingerprint = seedResult('real-plus-synthetic', 0).fingerprint
    await fakeSamples(runDir, 4, 24, 5000)
    await runStage(classifyStage, smaller, {force: false})
    expect(seedResult('real', 0).fingerprint).to.equal(realFingerprint)
    expect(seedResult('real-plus-synthetic', 0).fingerprint).to.not.equal(mixedFingerprint)
  })

  it('names the missing generated samples when a protocol needs them', async () => {
    const runDir = tmpDir()
    await synthesize({kind: 'dermoscopy', n: 30, size: 16, out: join(runDir, 'data'), seed: 4})
    const config = loadConfig({sets: [`run.dir=${runDir}`, 'data.imageSize=16', 'classify.protocols=[synthetic]']})
    let message = ''
    try {
      await runStage(classifyStage, config)
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).to.match(/samples\/manifest\.jsonl: missing; run `medgen generate` first/)
  })
})
