// Gradient checkpointing of PixArt blocks (src/models/pixart/checkpoint.ts): the same loss and
// the same gradients as the plain forward, for a from-scratch model and for LoRA on a frozen base
// (where the frozen weights get no gradient and the adapters do), and fewer tensors on the tape.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {Rng} from '../../src/util/rng.js'
import {pixartPreset} from '../../src/models/pixart/config.js'
import {pixartForward, pixartParamShapes, initPixArtParams} from '../../src/models/pixart/transformer.js'
import {adaptableModules, createLora, loraTargetList} from '../../src/models/lora.js'

const cfg = {...pixartPreset('pixart-demo'), num_layers: 2, sample_size: 16}

function lossOf(
  params: Map<string, tf.Tensor>,
  lora: ReturnType<typeof createLora> | null,
  checkpointBlocks: boolean,
  model = cfg,
  batch = 2
): () => tf.Scalar {
  const size = model.sample_size
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D
  const context = tf.randomNormal([batch, 2, model.caption_channels], 0, 1, 'float32', 2) as tf.Tensor3D
  const target = tf.randomNormal([batch, size, size, 6], 0, 1, 'float32', 3)
  const timesteps = Array.from({length: batch}, (_, i) => 10 + 97 * i)
  // row 0 has its second condition token padded (a key-mask bias reaches every block)
  const mask = tf.tensor2d(Array.from({length: batch}, (_, i) => [1, i === 0 ? 0 : 1])) as tf.Tensor2D
  return () =>
    tf.tidy(
      () =>
        pixartForward({params, lora}, model, {x, timesteps, context, mask, checkpointBlocks})
          .sample.sub(target)
          .square()
          .mean() as tf.Scalar
    )
}

function maxRelativeDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(
    () =>
      tf
        .max(tf.abs(a.sub(b)))
        .div(tf.max(tf.abs(b)).add(1e-12))
        .dataSync()[0]
  )
}

describe('PixArt gradient checkpointing', function () {
  this.timeout(60_000)
  before(async () => {
    await useTestBackend()
  })

  it('from scratch: same loss and gradients on every parameter', () => {
    const params = initPixArtParams(cfg, new Rng(3))
    // non-zero everywhere (diffusers zero-inits nothing here, but be sure every path carries signal)
    for (const v of params.values()) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 9))
    const vars = [...params.values()]
    const plain = tf.variableGrads(lossOf(params, null, false), vars)
    const ckpt = tf.variableGrads(lossOf(params, null, true), vars)
    expect(Math.abs(plain.value.dataSync()[0] - ckpt.value.dataSync()[0])).to.be.below(1e-6)
    let worst = 0
    for (const v of vars) worst = Math.max(worst, maxRelativeDiff(ckpt.grads[v.name], plain.grads[v.name]))
    expect(worst, 'worst relative gradient difference').to.be.below(1e-4)
    expect(Object.keys(ckpt.grads).length).to.equal(vars.length)
  })

  it('LoRA on a frozen base (plain tensors): adapters get the same gradients', () => {
    const base = initPixArtParams(cfg, new Rng(4))
    const frozen = new Map<string, tf.Tensor>()
    for (const [name, v] of base) frozen.set(name, tf.randomNormal(v.shape, 0, 0.05, 'float32', 11))
    const lora = createLora(adaptableModules(pixartParamShapes(cfg)), loraTargetList('broad'), 4, 4, new Rng(5))
    for (const a of lora.adapters.values())
      (a.B as tf.Variable).assign(tf.randomNormal(a.B.shape, 0, 0.05, 'float32', 12))
    const vars = [...lora.adapters.values()].flatMap(a => [a.A, a.B]) as tf.Variable[]
    const plain = tf.variableGrads(lossOf(frozen, lora, false), vars)
    const ckpt = tf.variableGrads(lossOf(frozen, lora, true), vars)
    let worst = 0
    for (const v of vars) worst = Math.max(worst, maxRelativeDiff(ckpt.grads[v.name], plain.grads[v.name]))
    expect(worst, 'worst relative adapter-gradient difference').to.be.below(1e-4)
  })

  it('keeps less memory at the peak of a training step (6 blocks, 64 tokens, batch 8)', async () => {
    const model = {...cfg, num_layers: 6, sample_size: 32}
    const params = initPixArtParams(model, new Rng(3))
    const vars = [...params.values()]
    const peak = async (checkpointBlocks: boolean) =>
      (
        await tf.profile(() => {
          const {value, grads} = tf.variableGrads(lossOf(params, null, checkpointBlocks, model, 8), vars)
          tf.dispose([value, ...Object.values(grads)])
        })
      ).peakBytes
    const plain = await peak(false)
    const ckpt = await peak(true)
    expect(ckpt, `peak bytes ${ckpt} vs ${plain}`).to.be.below(0.5 * plain)
  })
})
