// The optional perceptual loss (issue 5; docs/REFERENCE.md §3.4): the VGG-19 relu3_1 slice loaded
// from torchvision-named .safetensors / .pth files, checked against hand-written convolutions
// (and against torch when /usr/bin/python3 has it), its loss and gradients, its errors, and a
// train-visual run that uses it.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {promises as fs, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {compareArrays, tmpDir} from '../helpers/tmp.js'
import {torchZip, type FakeStorage, type FakeTensor} from '../io/torch-writer.js'
import {sha256File} from '../../src/io/atomic.js'
import {writeSafetensors} from '../../src/io/safetensors.js'
import type {HostTensor, TensorMap} from '../../src/io/tensor-map.js'
import {PerceptualLoss} from '../../src/losses/perceptual.js'
import {vggFeatures, vggParamShapes} from '../../src/models/vgg/vgg19.js'
import {disposeVgg, loadVgg19Features} from '../../src/models/vgg/weights.js'
import {loadConfig} from '../../src/config/load.js'
import {synthesize} from '../../src/data/synth/write.js'
import {runTrainVisual} from '../../src/stages/train-visual.js'
import {Rng} from '../../src/util/rng.js'
import {expectUserError} from '../helpers/user-error.js'

process.env.MEDGEN_QUIET = '1'

/** A random VGG-19 features slice in torchvision names and layout (He-scaled so activations stay O(1)). */
function randomVggState(seed: number): TensorMap {
  const rng = new Rng(seed)
  const state: TensorMap = new Map()
  for (const [name, shape] of vggParamShapes()) {
    const n = shape.reduce((a, b) => a * b, 1)
    const std = shape.length === 4 ? Math.sqrt(2 / (shape[1] * 9)) : 0.1
    state.set(name, {dtype: 'F32', shape, data: rng.normalArray(n, std)})
  }
  return state
}

/** PyTorch Conv2d(3x3, padding 1) by hand: input CHW, weight OIHW, both in torch layout. */
function convByHand(
  input: Float32Array,
  c: number,
  h: number,
  w: number,
  weight: Float32Array,
  bias: Float32Array,
  out: number
): Float32Array {
  const y = new Float32Array(out * h * w)
  for (let o = 0; o < out; o++)
    for (let r = 0; r < h; r++)
      for (let q = 0; q < w; q++) {
        let s = bias[o]
        for (let i = 0; i < c; i++)
          for (let kr = 0; kr < 3; kr++)
            for (let kq = 0; kq < 3; kq++) {
              const rr = r + kr - 1,
                qq = q + kq - 1
              if (rr < 0 || rr >= h || qq < 0 || qq >= w) continue
              s += input[(i * h + rr) * w + qq] * weight[((o * c + i) * 3 + kr) * 3 + kq]
            }
        y[(o * h + r) * w + q] = s
      }
  return y
}

/** torch.save zip of float32 tensors (one storage each), as torch >= 1.6 writes a state_dict. */
function torchZipOf(state: TensorMap): Buffer {
  const tensors: Record<string, FakeTensor> = {}
  const storages: Record<string, FakeStorage> = {}
  let k = 0
  for (const [name, t] of state) {
    const key = String(k++)
    const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1))
    tensors[name] = {storage: key, offset: 0, size: t.shape, stride: strides}
    storages[key] = {type: 'FloatStorage', bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)}
  }
  return torchZip(tensors, storages)
}

const hostData = (t: tf.Tensor) => t.dataSync() as Float32Array

describe('visual: perceptual loss (VGG-19 relu3_1)', function () {
  this.timeout(300_000)
  const dir = tmpDir()
  const state = randomVggState(21)
  const safetensorsPath = join(dir, 'vgg19.safetensors')
  const pthPath = join(dir, 'vgg19.pth')
  before(async () => {
    await useTestBackend()
    // the full checkpoint's other keys must be ignored: a classifier and a deeper conv of another shape
    const full: TensorMap = new Map(state)
    full.set('features.12.weight', {dtype: 'F32', shape: [2, 2], data: new Float32Array(4)})
    full.set('classifier.6.bias', {dtype: 'F32', shape: [10], data: new Float32Array(10)})
    await writeSafetensors(safetensorsPath, full)
    writeFileSync(pthPath, torchZipOf(full))
  })

  it('has the 555,328 parameters of features[0:12] under torchvision names', () => {
    const shapes = vggParamShapes()
    expect([...shapes.keys()].filter(k => k.endsWith('.weight'))).to.deep.equal([
      'features.0.weight',
      'features.2.weight',
      'features.5.weight',
      'features.7.weight',
      'features.10.weight'
    ])
    expect([...shapes.values()].reduce((s, shape) => s + shape.reduce((a, b) => a * b, 1), 0)).to.equal(555_328) // docs/REFERENCE.md §9
  })

  it('loads .safetensors and torch .pth alike, convs match hand-computed PyTorch convolutions', async () => {
    const fromSafetensors = await loadVgg19Features(safetensorsPath)
    const fromPth = await loadVgg19Features(pthPath)
    expect([...fromSafetensors.weights.keys()]).to.deep.equal([...vggParamShapes().keys()])
    expect(fromSafetensors.sha256).to.equal(await sha256File(safetensorsPath))
    for (const [name, t] of fromSafetensors.weights)
      expect(Array.from(hostData(fromPth.weights.get(name)!)), name).to.deep.equal(Array.from(hostData(t)))
    disposeVgg(fromPth.weights)

    const rng = new Rng(4)
    for (const [index, cin, cout, h, w] of [
      [0, 3, 64, 5, 4],
      [10, 128, 256, 3, 2]
    ]) {
      const input = rng.normalArray(cin * h * w) // CHW
      const weight = state.get(`features.${index}.weight`)!.data as Float32Array
      const bias = state.get(`features.${index}.bias`)!.data as Float32Array
      const expected = convByHand(input, cin, h, w, weight, bias, cout)
      const got = tf.tidy(() => {
        const x = tf.tensor4d(input, [1, cin, h, w]).transpose([0, 2, 3, 1]) as tf.Tensor4D
        return tf
          .conv2d(x, fromSafetensors.weights.get(`features.${index}.weight`) as tf.Tensor4D, 1, [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0]
          ])
          .add(fromSafetensors.weights.get(`features.${index}.bias`)!)
          .transpose([0, 3, 1, 2])
      })
      const cmp = compareArrays(hostData(got), expected, 1e-4, 1e-4)
      got.dispose()
      expect(cmp.ok, `features.${index}: max |diff| ${cmp.maxAbs}`).to.equal(true)
    }
    const shape = tf.tidy(() => vggFeatures(tf.zeros([2, 13, 10, 3]) as tf.Tensor4D, fromSafetensors.weights).shape)
    expect(shape).to.deep.equal([2, 3, 2, 256]) // two 2x2 max pools, floor mode
    disposeVgg(fromSafetensors.weights)
  })

  it('accepts vgg19().features.state_dict() files (bare 0.weight, ...)', async () => {
    const bare: TensorMap = new Map([...state].map(([k, v]) => [k.slice('features.'.length), v]))
    const path = join(dir, 'features-only.safetensors')
    await writeSafetensors(path, bare)
    const loaded = await loadVgg19Features(path)
    expect(Array.from(hostData(loaded.weights.get('features.7.bias')!))).to.deep.equal(
      Array.from(state.get('features.7.bias')!.data as Float32Array)
    )
    disposeVgg(loaded.weights)
  })

  it('names the file and every missing or mis-shaped tensor', async () => {
    const missing: TensorMap = new Map(state)
    missing.delete('features.7.bias')
    missing.delete('features.10.weight')
    const missingPath = join(dir, 'missing.safetensors')
    await writeSafetensors(missingPath, missing)
    expect(await expectUserError(loadVgg19Features(missingPath))).to.match(
      new RegExp(`^${missingPath}: missing features\\.7\\.bias, features\\.10\\.weight;`)
    )

    const wrong: TensorMap = new Map(state)
    wrong.set('features.5.weight', {dtype: 'F32', shape: [128, 32, 3, 3], data: new Float32Array(128 * 32 * 9)})
    const wrongPath = join(dir, 'wrong.pth')
    writeFileSync(wrongPath, torchZipOf(wrong))
    expect(await expectUserError(loadVgg19Features(wrongPath))).to.include(
      `${wrongPath}: wrong shapes: features.5.weight is [128,32,3,3], expected [128,64,3,3]`
    )

    const other = join(dir, 'other.safetensors')
    await writeSafetensors(
      other,
      new Map<string, HostTensor>([['fc.weight', {dtype: 'F32', shape: [2], data: new Float32Array(2)}]])
    )
    expect(await expectUserError(loadVgg19Features(other))).to.match(
      new RegExp(`^${other}: missing features\\.0\\.weight, `)
    )
    expect(await expectUserError(loadVgg19Features(join(dir, 'absent.pth')))).to.include('absent.pth')
  })

  it('is 0 for reco == x, positive otherwise; gradients reach reco only, the VGG stays frozen', async () => {
    const loss = await PerceptualLoss.load(safetensorsPath)
    const rng = new Rng(9)
    const x = tf.tensor4d(rng.normalArray(2 * 16 * 16 * 3, 0.5), [2, 16, 16, 3]).clipByValue(-1, 1) as tf.Tensor4D
    const same = loss.loss(x, x)
    expect(hostData(same)[0]).to.equal(0)
    const reco = tf.variable(x.add(tf.tensor4d(rng.normalArray(x.size, 0.2), x.shape)), true, 'perceptual_test_reco')
    const before = tf.memory().numTensors
    // no variable list: every trainable variable in the engine would get a gradient
    const {value, grads} = tf.variableGrads(() => loss.loss(reco as tf.Variable<tf.Rank.R4>, x))
    expect(hostData(value)[0]).to.be.above(0)
    expect(Object.keys(grads)).to.deep.equal([reco.name])
    expect(tf.tidy(() => hostData(grads[reco.name].abs().max())[0])).to.be.above(0)
    for (const t of loss.weights.values()) expect(t instanceof tf.Variable).to.equal(false)
    tf.dispose([value, ...Object.values(grads)])
    expect(tf.memory().numTensors).to.equal(before) // no leak per call
    tf.dispose([same, reco, x])
    loss.dispose()
  })

  it('matches torch conv2d/relu/max_pool2d on a legacy torch.save checkpoint, within 1e-4', async function () {
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import torch'], {stdio: 'ignore'})
    } catch {
      console.log('      (skipped: /usr/bin/python3 cannot import torch)')
      this.skip()
    }
    const out = tmpDir()
    execFileSync('/usr/bin/python3', ['-c', TORCH_REFERENCE, out], {stdio: ['ignore', 'ignore', 'inherit']})
    const raw = (name: string) => {
      const b = readFileSync(join(out, name))
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4)
    }
    const loss = await PerceptualLoss.load(join(out, 'vgg19-legacy.pth')) // the format of torchvision's vgg19-dcbb9e9d.pth
    const nhwc = (v: Float32Array) => tf.tensor4d(v, [2, 3, 13, 12]).transpose([0, 2, 3, 1]) as tf.Tensor4D
    const reco = nhwc(raw('reco.bin')),
      x = nhwc(raw('x.bin'))
    const features = tf.tidy(() => loss.features(reco).transpose([0, 3, 1, 2]))
    expect(features.shape).to.deep.equal([2, 256, 3, 3])
    const cmp = compareArrays(hostData(features), raw('features.bin'), 1e-4, 1e-4)
    expect(cmp.ok, `max |diff| ${cmp.maxAbs}`).to.equal(true)
    const value = loss.loss(reco, x)
    expect(hostData(value)[0]).to.be.closeTo(raw('loss.bin')[0], 1e-5)
    tf.dispose([features, value, reco, x])
    loss.dispose()
  })

  it('train-visual with visual.perceptual.weights adds 0.1 x perceptual, records it and hashes the file', async () => {
    const data = join(tmpDir(), 'data')
    await synthesize({kind: 'dermoscopy', n: 14, size: 32, out: data, seed: 3})
    const runDir = tmpDir()
    const config = loadConfig({
      overrides: {
        'run.dir': runDir,
        'run.seed': 5,
        'data.path': data,
        'data.testFraction': 0.15,
        'data.valFraction': 0.15,
        'visual.imageSize': 32,
        'visual.ndf': 4,
        'visual.epochs': 1,
        'visual.batchSize': 6,
        'visual.gridImages': 2,
        'visual.perceptual.weights': safetensorsPath
      }
    })
    await runTrainVisual(config, {resume: false})
    const out = join(runDir, 'visual')
    const metrics = JSON.parse(await fs.readFile(join(out, 'metrics.json'), 'utf8'))
    expect(metrics.steps, `${metrics.images.train} training images`).to.equal(2)
    expect(metrics.perceptual).to.include({
      weights: safetensorsPath,
      sha256: await sha256File(safetensorsPath),
      weight: 0.1
    })
    expect(metrics.perceptual.lastStep).to.be.above(0)
    const manifest = JSON.parse(await fs.readFile(join(out, 'manifest.json'), 'utf8'))
    expect(manifest.inputs[safetensorsPath]).to.equal(await sha256File(safetensorsPath))
    const checkpoint = (await fs.readdir(join(out, 'checkpoints'))).sort().at(-1)!
    const {history} = JSON.parse(await fs.readFile(join(out, 'checkpoints', checkpoint, 'state.json'), 'utf8'))
    expect(history.steps).to.have.length(metrics.steps)
    for (const s of history.steps) {
      expect(s.perceptual).to.be.above(0)
      const total = s.reconstruction + 0.01 * s.kl + 10 * s.dice + s.regression + 0.1 * s.perceptual
      expect(s.loss).to.be.closeTo(total, 1e-4 * Math.max(1, total))
    }
  })
})

/** Writes a random relu3_1 slice as a legacy (pre-1.6) torch.save file, plus inputs and torch's features and loss. */
const TORCH_REFERENCE = `
import sys, torch, torch.nn.functional as F
out = sys.argv[1]
torch.manual_seed(0)
convs = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256)]
sd = {}
for i, cin, cout in convs:
    sd[f'features.{i}.weight'] = torch.randn(cout, cin, 3, 3) * (2.0 / (9 * cin)) ** 0.5
    sd[f'features.{i}.bias'] = torch.randn(cout) * 0.1
sd['features.12.weight'] = torch.randn(4, 4)
sd['classifier.0.weight'] = torch.randn(8, 4)
torch.save(sd, out + '/vgg19-legacy.pth', _use_new_zipfile_serialization=False)
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
def features(img):
    h = ((img + 1) / 2 - mean) / std
    for i, cin, cout in convs:
        h = F.relu(F.conv2d(h, sd[f'features.{i}.weight'], sd[f'features.{i}.bias'], padding=1))
        if i in (2, 7):
            h = F.max_pool2d(h, 2, 2)
    return h
reco = torch.rand(2, 3, 13, 12) * 2 - 1
x = torch.rand(2, 3, 13, 12) * 2 - 1
with torch.no_grad():
    fr = features(reco)
    loss = F.l1_loss(fr, features(x))
for name, t in [('reco', reco), ('x', x), ('features', fr), ('loss', loss.reshape(1))]:
    t.contiguous().numpy().astype('float32').tofile(out + '/' + name + '.bin')
`
