// `medgen eval` on image folders: FID/KID through the pytorch-fid Inception (hash-filled
// weights from golden/inception-fid, written as a safetensors checkpoint), hfd, the skip
// messages of metrics that cannot run, feature files in place of images, and FID growing
// with noise through the whole image -> Inception -> Fréchet pipeline.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {writePngs, npy, zip} from './helpers.js'
import {writeFileSync} from 'node:fs'
import {loadConfig} from '../../src/config/load.js'
import {runStage} from '../../src/stages/stage.js'
import {evalStage} from '../../src/stages/eval.js'
import {writeSafetensors} from '../../src/io/safetensors.js'
import {hashFill} from '../../src/models/inception/fill.js'
import {inceptionParamShapes} from '../../src/models/inception/inception.js'
import {loadInception, disposeInception} from '../../src/models/inception/weights.js'
import {inceptionFeatures} from '../../src/metrics/inception-features.js'
import {frechetDistance, gaussianStats} from '../../src/metrics/frechet.js'
import {drawSample} from '../../src/data/synth/sample.js'
import {Rng} from '../../src/util/rng.js'

const size = 32
const synthImages = (n: number, seed: number) =>
  Array.from({length: n}, (_, i) => drawSample('dermoscopy', seed + i, size).rgb)
function noisy(images: Uint8Array[], level: number, seed: number): Uint8Array[] {
  const rng = new Rng(seed)
  return images.map(img => Uint8Array.from(img, v => Math.max(0, Math.min(255, Math.round(v + level * rng.normal())))))
}

describe('eval stage (image folders)', function () {
  this.timeout(300000)
  let weightsPath = ''
  before(async () => {
    await useTestBackend()
    weightsPath = join(tmpDir(), 'inception-hashfill.safetensors')
    await writeSafetensors(weightsPath, hashFill(inceptionParamShapes()))
  })

  it('fid, kid and hfd on --samples/--real folders; metrics.json with definitions, N, resize, sha256, seed', async () => {
    const dir = tmpDir()
    const real = synthImages(4, 10)
    await writePngs(join(dir, 'real'), real, size)
    await writePngs(join(dir, 'gen'), synthImages(4, 500), size)
    const config = loadConfig({
      sets: [
        `run.dir=${join(dir, 'run')}`,
        `weights.inception=${weightsPath}`,
        `eval.samples=${join(dir, 'gen')}`,
        `eval.real=${join(dir, 'real')}`,
        'eval.metrics=[fid,kid,hfd,dfd,control]',
        'eval.kidSubsets=4',
        'eval.hfdSize=32'
      ]
    })
    await runStage(evalStage, config)
    const m = JSON.parse(readFileSync(join(dir, 'run', 'eval', 'metrics.json'), 'utf8'))
    expect([m.nReal, m.nGen, m.seed, m.resize]).to.deep.equal([4, 4, config.run.seed, 'bilinear'])
    expect(m.metrics.fid.value).to.be.greaterThan(0)
    expect(m.metrics.fid.weightsSha256).to.match(/^[0-9a-f]{64}$/)
    expect(m.metrics.fid.definition).to.match(/pool3/)
    expect(m.metrics.kid.subsetSize).to.equal(4)
    expect(m.metrics.kid.std).to.be.a('number')
    expect(m.metrics.hfd.value).to.be.greaterThan(0)
    expect(m.metrics.hfd.definition).to.match(/high-frequency/)
    expect(m.metrics.dfd.skipped).to.match(/run `medgen classify` first/)
    expect(m.metrics.control.skipped).to.match(/not --samples/)
    console.log(
      `      fid ${m.metrics.fid.value.toFixed(4)}, kid ${m.metrics.kid.value.toExponential(3)} ± ${m.metrics.kid.std.toExponential(2)}, hfd ${m.metrics.hfd.value.toFixed(4)}`
    )
    // Without Inception weights fid/kid say what they need and hfd still runs.
    const noWeights = loadConfig({
      sets: [
        `run.dir=${join(dir, 'run2')}`,
        `eval.samples=${join(dir, 'gen')}`,
        `eval.real=${join(dir, 'real')}`,
        'eval.hfdSize=32'
      ]
    })
    await runStage(evalStage, noWeights)
    const m2 = JSON.parse(readFileSync(join(dir, 'run2', 'eval', 'metrics.json'), 'utf8'))
    expect(m2.metrics.fid.skipped).to.match(/^needs weights\.inception/)
    expect(m2.metrics.kid.skipped).to.match(/^needs weights\.inception/)
    expect(m2.metrics.hfd.value).to.equal(m.metrics.hfd.value)
  })

  it('FID of a set against itself is ~0 and grows monotonically with added noise (4 levels)', async () => {
    const dir = tmpDir()
    const base = synthImages(4, 40)
    const {weights, sha256} = await loadInception(weightsPath)
    const feats = async (images: Uint8Array[], name: string) =>
      inceptionFeatures(await writePngs(join(dir, name), images, size), {
        weights,
        weightsSha256: sha256,
        resize: 'bilinear',
        cacheDir: join(dir, 'cache')
      })
    const real = await feats(base, 'real')
    const again = await feats(base, 'real-copy')
    expect(again.cached).to.equal(true) // same content -> cached features
    expect(Math.abs(frechetDistance(real, again).value)).to.be.lessThan(1e-6)
    const values: number[] = []
    for (const level of [8, 24, 48, 96])
      values.push(frechetDistance(real, await feats(noisy(base, level, level), `n${level}`)).value)
    console.log(`      FID vs noise sigma 8/24/48/96: ${values.map(v => v.toFixed(4)).join(', ')}`)
    for (let i = 1; i < values.length; i++) expect(values[i]).to.be.greaterThan(values[i - 1])
    disposeInception(weights)
  })

  it('feature files replace Inception: pytorch-fid stats (.npz mu/sigma) and activations (.npy)', async () => {
    const dir = tmpDir()
    const rng = new Rng(9)
    const a = Float32Array.from({length: 40 * 8}, () => rng.normal()),
      b = Float32Array.from({length: 30 * 8}, () => rng.normal() + 0.3)
    writeFileSync(join(dir, 'real.npy'), npy(a, [40, 8]))
    writeFileSync(join(dir, 'gen.npy'), npy(b, [30, 8]))
    const config = loadConfig({
      sets: [
        `run.dir=${join(dir, 'run')}`,
        `eval.featuresReal=${join(dir, 'real.npy')}`,
        `eval.featuresGen=${join(dir, 'gen.npy')}`,
        'eval.kidSubsets=3',
        'eval.kidSubsetSize=20'
      ]
    })
    await runStage(evalStage, config)
    const m = JSON.parse(readFileSync(join(dir, 'run', 'eval', 'metrics.json'), 'utf8'))
    const expected = frechetDistance({n: 40, d: 8, data: a}, {n: 30, d: 8, data: b}).value
    expect(Math.abs(m.metrics.fid.value - expected)).to.be.lessThan(1e-9 * expected)
    expect(m.metrics.kid.subsets).to.equal(3)
    expect(m.metrics.hfd.skipped).to.match(/needs image folders/)
    // pytorch-fid --save-stats style: mu/sigma in an .npz; FID from statistics, KID cannot run.
    const sa = gaussianStats({n: 40, d: 8, data: a})
    writeFileSync(join(dir, 'real.npz'), zip({'mu.npy': npy(sa.mu, [8]), 'sigma.npy': npy(sa.sigma, [8, 8])}, true))
    const statsConfig = loadConfig({
      sets: [
        `run.dir=${join(dir, 'run2')}`,
        `eval.featuresReal=${join(dir, 'real.npz')}`,
        `eval.featuresGen=${join(dir, 'gen.npy')}`,
        'eval.metrics=[fid,kid]'
      ]
    })
    await runStage(evalStage, statsConfig)
    const m2 = JSON.parse(readFileSync(join(dir, 'run2', 'eval', 'metrics.json'), 'utf8'))
    expect(Math.abs(m2.metrics.fid.value - expected)).to.be.lessThan(1e-9 * expected)
    expect(m2.metrics.kid.skipped).to.match(/KID needs per-image features/)
  })
})
