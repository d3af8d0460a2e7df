import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {SDNet} from '../../src/models/sdnet/model.js'
import {presetConfig, sdnetConfig, styleFlattenSize} from '../../src/models/sdnet/config.js'
import {gumbelHard, argmaxOneHot, applyBatchStats, batchNorm, type BatchStat} from '../../src/models/sdnet/layers.js'
import {Rng} from '../../src/util/rng.js'
import {sdnetLoss} from '../../src/losses/sdnet.js'
import {AdamW} from '../../src/train/adamw.js'
import {sdnetStepGradients} from '../../src/stages/visual/step.js'
import {splitBackward} from '../../src/stages/visual/trainer.js'

describe('visual: SDNet architecture', () => {
  before(async () => {
    await useTestBackend()
  })

  describe("sdnet-224 (the authors' size)", function () {
    this.timeout(900_000)
    let m: SDNet
    before(() => {
      m = SDNet.create(presetConfig('sdnet-224', 'scalar'), 1)
    })
    after(() => m.dispose())

    it("has the authors' 36,105,917 parameters with scalar AdaIN, split as docs/REFERENCE.md §9", () => {
      expect(m.parameterCount()).to.equal(36_105_917)
      expect(m.parameterCount('a_encoder.unet.')).to.equal(35_058_952)
      let enc = 0,
        bottleneck = 0
      for (const [name, v] of m.params) {
        if (name.includes('.encoder_block')) enc += v.size
        if (name.includes('.bottleneck.')) bottleneck += v.size
      }
      expect(enc).to.equal(4_689_216)
      expect(bottleneck).to.equal(14_689_280)
      expect(m.parameterCount('segmentor.')).to.equal(41_986)
      expect(m.parameterCount('m_encoder.')).to.equal(902_512)
      expect(m.parameterCount('decoder.')).to.equal(102_467)
      // the authors' hard-coded Linear width, derived from the image size here
      expect(m.params.get('m_encoder.fc.weight')!.shape).to.deep.equal([25088, 32])
      expect(m.params.get('a_encoder.unet.encoder_block1.0.weight')!.shape).to.deep.equal([3, 3, 3, 64])
      expect(m.buffers.get('a_encoder.unet.bottleneck.resconv.2.running_var')!.shape).to.deep.equal([1024])
    })

    it('runs a training-mode forward and the loss at 224 px (batch 1)', () => {
      const x = tf.randomUniform([1, 224, 224, 3], -1, 1, 'float32', 9) as tf.Tensor4D
      const mask = tf.randomUniform([1, 224, 224, 1], 0, 1, 'float32', 10).greater(0.7).toFloat() as tf.Tensor4D
      const loss = tf.tidy(() => {
        const out = m.forward(m.context(true, []), x, {gumbel: 1, gumbelReco: 2, eps: 3})
        expect(out.anatomy.shape).to.deep.equal([1, 224, 224, 8])
        expect(out.seg.shape).to.deep.equal([1, 224, 224, 2])
        expect(out.reco.shape).to.deep.equal([1, 224, 224, 3])
        expect(out.muTilde!.shape).to.deep.equal([1, 8])
        const lesion = out.seg.slice([0, 0, 0, 1], [-1, -1, -1, 1]) as tf.Tensor4D
        return sdnetLoss({
          x,
          mask,
          reco: out.reco,
          lesion,
          mu: out.mu,
          logvar: out.logvar,
          z: out.z,
          muTilde: out.muTilde!
        }).total
      })
      expect(Number.isFinite(loss.dataSync()[0])).to.equal(true)
      tf.dispose([loss, x, mask])
    })

    it('runs one optimizer step at 224 px (batch 1), backward split at the reconstruction: every parameter gets a gradient of its shape', function () {
      // one backward pass needs more than wasm's 4 GB heap at 224 px; the split one fits (src/stages/visual/step.ts)
      const x = tf.randomUniform([1, 224, 224, 3], -1, 1, 'float32', 9) as tf.Tensor4D
      const mask = tf.randomUniform([1, 224, 224, 1], 0, 1, 'float32', 10).greater(0.7).toFloat() as tf.Tensor4D
      expect(splitBackward(m.config)).to.equal(true)
      const {grads, loss, stats} = sdnetStepGradients(
        m,
        x,
        mask,
        {gumbel: 1, gumbelReco: 2, eps: 3},
        {splitBackward: true}
      )
      expect(Number.isFinite(loss)).to.equal(true)
      expect(grads.size).to.equal(m.params.size)
      for (const [name, v] of m.params) expect(grads.get(name)!.shape, name).to.deep.equal(v.shape)
      const before = m.buffers.get('m_encoder.norm.running_mean')!.dataSync().slice()
      const opt = new AdamW(m.params, {lr: 1e-4, beta1: 0.5, beta2: 0.999})
      opt.applyGradients(grads)
      m.updateRunningStats(stats)
      // training forwards BN twice per step (the image, then the re-encoded reconstruction)
      expect(m.batchesTracked.get('a_encoder.unet.encoder_block1.1')).to.equal(2)
      expect(m.buffers.get('m_encoder.norm.running_mean')!.dataSync()).to.not.deep.equal(before)
      tf.dispose([x, mask, ...grads.values()])
      opt.dispose()
    })
  })

  it('the split backward gives the one-pass gradients, loss and BatchNorm statistics (sdnet-small, batch 2)', () => {
    const small = SDNet.create(presetConfig('sdnet-small', 'scalar'), 4)
    expect(splitBackward(small.config)).to.equal(false)
    const x = tf.randomUniform([2, 64, 64, 3], -1, 1, 'float32', 5) as tf.Tensor4D
    const mask = tf.randomUniform([2, 64, 64, 1], 0, 1, 'float32', 6).greater(0.6).toFloat() as tf.Tensor4D
    const noise = {gumbel: 7, gumbelReco: 8, eps: 9}
    const one = sdnetStepGradients(small, x, mask, noise, {splitBackward: false})
    const two = sdnetStepGradients(small, x, mask, noise, {splitBackward: true})
    expect(two.loss).to.be.closeTo(one.loss, 1e-4 * Math.abs(one.loss))
    expect(two.terms.regression).to.be.closeTo(one.terms.regression, 1e-5)
    expect(two.grads.size).to.equal(one.grads.size)
    // relative to each tensor's own scale, floored: a conv bias feeding a BatchNorm has a true
    // gradient of 0, and what both passes return there is rounding noise (~1e-7)
    const scaleOf = (g: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0])
    const floor = 1e-2 * Math.max(...[...one.grads.values()].map(scaleOf))
    let worst = 0
    for (const [name, g] of one.grads) {
      worst = Math.max(
        worst,
        tf.tidy(() => tf.max(tf.abs(tf.sub(g, two.grads.get(name)!))).dataSync()[0]) / Math.max(floor, scaleOf(g))
      )
    }
    expect(worst, 'worst relative gradient difference').to.be.below(1e-3)
    expect(two.stats.map(s => s.name)).to.deep.equal(one.stats.map(s => s.name))
    for (let i = 0; i < one.stats.length; i++) {
      expect(
        tf.tidy(() => tf.max(tf.abs(tf.sub(one.stats[i].mean, two.stats[i].mean))).dataSync()[0]),
        one.stats[i].name
      ).to.be.below(1e-5)
    }
    tf.dispose([
      x,
      mask,
      ...one.grads.values(),
      ...two.grads.values(),
      ...one.stats.flatMap(s => [s.mean, s.variance]),
      ...two.stats.flatMap(s => [s.mean, s.variance])
    ])
  })

  it('derives the style encoder flatten size from the image size', () => {
    expect(styleFlattenSize(224)).to.equal(25088)
    expect(styleFlattenSize(64)).to.equal(2048)
    expect(() => sdnetConfig({imageSize: 72, ndf: 16})).to.throw(/multiple of 16/)
  })

  it('sdnet-small forward shapes, eval mode: one-hot anatomy, softmax seg, reco in (-1, 1)', () => {
    const m = SDNet.create(sdnetConfig({imageSize: 32, ndf: 4, adain: 'learned'}), 2)
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 3) as tf.Tensor4D
    const out = m.forward(m.context(false), x)
    expect(out.anatomy.shape).to.deep.equal([2, 32, 32, 8])
    expect(out.seg.shape).to.deep.equal([2, 32, 32, 2])
    expect(out.mu.shape).to.deep.equal([2, 8])
    expect(out.reco.shape).to.deep.equal([2, 32, 32, 3])
    const sums = out.anatomy.sum(-1).dataSync()
    expect(Array.from(sums).every(v => v === 1)).to.equal(true)
    expect(Array.from(out.anatomy.dataSync()).every(v => v === 0 || v === 1)).to.equal(true)
    expect(Array.from(out.seg.sum(-1).dataSync()).every(v => Math.abs(v - 1) < 1e-5)).to.equal(true)
    expect(Array.from(out.reco.dataSync()).every(v => v > -1 && v < 1)).to.equal(true)
    // eval is deterministic (argmax, the deliberate fix of docs/REFERENCE.md §3.2's noisy eval)
    const again = m.forward(m.context(false), x)
    expect(Array.from(again.anatomy.dataSync())).to.deep.equal(Array.from(out.anatomy.dataSync()))
    m.dispose()
  })

  it('hard Gumbel-softmax: one-hot forward, gradient of softmax(logits + g) backward', () => {
    const logits = tf.tensor4d(new Rng(5).normalArray(2 * 3 * 3 * 8), [2, 3, 3, 8])
    const probe = tf.tensor4d(new Rng(6).normalArray(2 * 3 * 3 * 8), [2, 3, 3, 8])
    const y = gumbelHard(logits, 123)
    expect(Array.from(y.sum(-1).dataSync())).to.deep.equal(new Array(18).fill(1))
    const g = tf.grad((l: tf.Tensor) => gumbelHard(l, 123).mul(probe).sum())(logits)
    // reference: the same noise, soft path only
    const u = tf.randomUniform(logits.shape, 1e-10, 1, 'float32', 123).clipByValue(1e-10, 1 - 1e-7)
    const noise = tf.neg(tf.log(tf.neg(tf.log(u))))
    const ref = tf.grad((l: tf.Tensor) => tf.softmax(l.add(noise), -1).mul(probe).sum())(logits)
    const d = tf.max(tf.abs(g.sub(ref))).dataSync()[0]
    expect(d).to.be.below(1e-6)
    expect(tf.max(tf.abs(ref)).dataSync()[0]).to.be.above(1e-3)
    // the one-hot sits at argmax(logits + g)
    const expected = argmaxOneHot(logits.add(noise))
    expect(Array.from(y.dataSync())).to.deep.equal(Array.from(expected.dataSync()))
  })

  it('BatchNorm: batch statistics in training, running averages (momentum 0.1, unbiased var) after the step', () => {
    const running = new Map([
      ['bn.running_mean', tf.variable(tf.zeros([2]))],
      ['bn.running_var', tf.variable(tf.ones([2]))]
    ])
    const params = new Map<string, tf.Tensor>([
      ['bn.weight', tf.ones([2])],
      ['bn.bias', tf.zeros([2])]
    ])
    const x = tf.tensor2d([
      [1, 10],
      [3, 14],
      [5, 12]
    ])
    const stats: BatchStat[] = []
    const y = batchNorm({training: true, params, buffers: running, batchStats: stats}, 'bn', x)
    // normalised with the biased variance: column 0 = [1,3,5] -> mean 3, var 8/3
    expect(y.dataSync()[0]).to.be.closeTo(-2 / Math.sqrt(8 / 3 + 1e-5), 1e-5)
    // gradients through the batch statistics, against the same formula written out
    const w = tf.tensor1d([1.5, -0.5])
    const probe = tf.tensor2d([
      [0.3, -1],
      [2, 0.5],
      [-0.7, 1.1]
    ])
    const manual = (t: tf.Tensor, g: tf.Tensor) => {
      const {mean, variance} = tf.moments(t, [0])
      return t
        .sub(mean)
        .mul(tf.rsqrt(variance.add(1e-5)))
        .mul(g)
        .mul(probe)
        .sum()
    }
    const ours = (t: tf.Tensor, g: tf.Tensor) =>
      batchNorm(
        {
          training: true,
          params: new Map([
            ['bn.weight', g],
            ['bn.bias', tf.zeros([2])]
          ]),
          buffers: running
        },
        'bn',
        t
      )
        .mul(probe)
        .sum()
    const [gx1, gw1] = tf.grads(manual)([x, w])
    const [gx2, gw2] = tf.grads(ours)([x, w])
    expect(tf.max(tf.abs(gx1.sub(gx2))).dataSync()[0]).to.be.below(1e-4)
    expect(tf.max(tf.abs(gw1.sub(gw2))).dataSync()[0]).to.be.below(1e-4)
    const counts = new Map<string, number>()
    applyBatchStats(running, stats, counts)
    expect(Array.from(running.get('bn.running_mean')!.dataSync())).to.satisfy(
      (v: number[]) => Math.abs(v[0] - 0.3) < 1e-6 && Math.abs(v[1] - 1.2) < 1e-5
    )
    // unbiased: column 0 var = 4 -> 0.9 * 1 + 0.1 * 4 = 1.3
    expect(running.get('bn.running_var')!.dataSync()[0]).to.be.closeTo(1.3, 1e-5)
    expect(counts.get('bn')).to.equal(1)
    const evalY = batchNorm({training: false, params, buffers: running}, 'bn', x)
    expect(evalY.dataSync()[0]).to.be.closeTo((1 - 0.3) / Math.sqrt(1.3 + 1e-5), 1e-5)
  })

  it('scalar AdaIN follows z only through its mean and unbiased std; learned AdaIN starts as plain instance norm, then uses every entry', () => {
    const a = tf
      .oneHot(
        tf.tensor3d(
          Array.from({length: 2 * 16 * 16}, (_, i) => i % 8),
          [2, 16, 16],
          'int32'
        ),
        8
      )
      .toFloat() as tf.Tensor4D
    const z1 = tf.tensor2d([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [0, 1, 2, 3, 4, 5, 6, 7]
    ])
    const z2 = tf.tensor2d([
      [7, 6, 5, 4, 3, 2, 1, 0],
      [7, 6, 5, 4, 3, 2, 1, 0]
    ]) // same mean and std, other order
    const maxDiff = (p: Float32Array | Int32Array | Uint8Array, q: Float32Array | Int32Array | Uint8Array) =>
      Math.max(...Array.from(p, (v, i) => Math.abs(v - q[i])))
    const scalar = SDNet.create(sdnetConfig({imageSize: 16, ndf: 2, adain: 'scalar'}), 4)
    const learned = SDNet.create(sdnetConfig({imageSize: 16, ndf: 2, adain: 'learned'}), 4)
    const s1 = scalar.decode(scalar.context(false), a, z1).dataSync()
    expect(maxDiff(s1, scalar.decode(scalar.context(false), a, z2).dataSync())).to.be.below(1e-6)
    // zero-initialised per-channel terms: at first the learned form ignores z (plain instance norm)
    const l0 = learned.decode(learned.context(false), a, z1).dataSync()
    expect(maxDiff(l0, learned.decode(learned.context(false), a, z2).dataSync())).to.be.below(1e-6)
    expect(maxDiff(l0, s1)).to.be.above(1e-4)
    for (const [name, v] of learned.params)
      if (name.includes('.adain')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 9))
    const l1 = learned.decode(learned.context(false), a, z1).dataSync()
    expect(maxDiff(l1, learned.decode(learned.context(false), a, z2).dataSync())).to.be.above(1e-4)
    ;[scalar, learned].forEach(m => m.dispose())
  })

  it('state_dict round trip in PyTorch layout (OIHW convs, [out,in] linears, num_batches_tracked)', async () => {
    const cfg = sdnetConfig({imageSize: 16, ndf: 2, adain: 'learned'})
    const a = SDNet.create(cfg, 1)
    const dict = await a.stateDict()
    expect(dict.get('a_encoder.unet.encoder_block1.0.weight')!.shape).to.deep.equal([2, 3, 3, 3])
    expect(dict.get('m_encoder.fc.weight')!.shape).to.deep.equal([32, 128])
    expect(dict.get('decoder.decoder.conv4.weight')!.shape).to.deep.equal([3, 1, 3, 3])
    expect(dict.get('segmentor.conv1.1.num_batches_tracked')!.dtype).to.equal('I64')
    const b = SDNet.create(cfg, 2)
    b.loadStateDict(dict, 'test')
    for (const [name, v] of a.params)
      expect(Array.from(b.params.get(name)!.dataSync()), name).to.deep.equal(Array.from(v.dataSync()))
    const wrong = SDNet.create(sdnetConfig({imageSize: 16, ndf: 4, adain: 'learned'}), 1)
    expect(() => wrong.loadStateDict(dict, 'model.safetensors')).to.throw(
      /model.safetensors: a_encoder.unet.encoder_block1.0.weight has shape/
    )
    ;[a, b, wrong].forEach(m => m.dispose())
  })
})
