// Parameter creation and the few layer ops SDNet needs, over plain parameter maps keyed by the
// authors' PyTorch state_dict names (docs/REFERENCE.md §3.2; tfjs layout per src/models/params.ts).
// Init follows docs/REFERENCE.md §3.1: Xavier-normal Conv/Linear weights, zero biases, BN weight 1.
import * as tf from '@tensorflow/tfjs'
import type {ParamKind, ParamMap} from '../params.js'
import type {Rng} from '../../util/rng.js'
import {conv2dFast} from './fast-conv.js'
import {trainBatchNorm} from '../batch-norm.js'

export const BN_MOMENTUM = 0.1 // PyTorch default (docs/REFERENCE.md §10)
export const BN_EPS = 1e-5

/** Collects parameters and BatchNorm buffers while a model is being built. */
export class ParamBuilder {
  readonly params: ParamMap = new Map()
  /** running_mean / running_var, not trained */
  readonly buffers: ParamMap = new Map()
  readonly kinds = new Map<string, ParamKind>()
  /** BatchNorm layer names in build order */
  readonly batchNorms: string[] = []

  constructor(private readonly rng: Rng) {}

  private xavier(shape: number[], fanIn: number, fanOut: number): tf.Tensor {
    const std = Math.sqrt(2 / (fanIn + fanOut))
    const n = shape.reduce((a, b) => a * b, 1)
    return tf.tensor(this.rng.normalArray(n, std), shape, 'float32')
  }

  private add(name: string, value: tf.Tensor, kind: ParamKind): void {
    if (this.params.has(name)) throw new Error(`duplicate parameter ${name}`)
    this.params.set(name, tf.variable(value, true))
    this.kinds.set(name, kind)
    value.dispose()
  }

  /** nn.Conv2d(cin, cout, k) stored HWIO. */
  conv(name: string, cin: number, cout: number, k: number, bias = true): void {
    this.add(`${name}.weight`, this.xavier([k, k, cin, cout], cin * k * k, cout * k * k), 'conv')
    if (bias) this.add(`${name}.bias`, tf.zeros([cout]), 'plain')
  }

  /** nn.Linear(nin, nout) stored [in, out]; `zero` starts the weight at 0 (no RNG draw). */
  linear(name: string, nin: number, nout: number, init: 'xavier' | 'zero' = 'xavier'): void {
    this.add(`${name}.weight`, init === 'zero' ? tf.zeros([nin, nout]) : this.xavier([nin, nout], nin, nout), 'linear')
    this.add(`${name}.bias`, tf.zeros([nout]), 'plain')
  }

  /** nn.BatchNorm2d / BatchNorm1d(c): affine weight/bias plus running statistics. */
  batchNorm(name: string, c: number): void {
    this.add(`${name}.weight`, tf.ones([c]), 'plain')
    this.add(`${name}.bias`, tf.zeros([c]), 'plain')
    const zeros = tf.zeros([c])
    const ones = tf.ones([c])
    this.buffers.set(`${name}.running_mean`, tf.variable(zeros, false))
    this.buffers.set(`${name}.running_var`, tf.variable(ones, false))
    zeros.dispose()
    ones.dispose()
    this.batchNorms.push(name)
  }
}

/** A batch statistic to fold into a BatchNorm's running averages after the step. */
export interface BatchStat {
  name: string
  mean: tf.Tensor
  variance: tf.Tensor
}

/** What a forward pass needs besides the input: mode, parameters, and where batch stats go. */
export interface ForwardContext {
  training: boolean
  params: Map<string, tf.Tensor>
  buffers: Map<string, tf.Tensor>
  /** training only: batch statistics recorded (kept alive) for the running-average update */
  batchStats?: BatchStat[]
}

function param(ctx: ForwardContext, name: string): tf.Tensor {
  const p = ctx.params.get(name)
  if (!p) throw new Error(`missing parameter ${name}`)
  return p
}

/** PyTorch Conv2d with symmetric zero padding (explicit, since TF 'same' pads stride-2 convs asymmetrically). */
export function conv(ctx: ForwardContext, name: string, x: tf.Tensor4D, stride = 1, pad = 1): tf.Tensor4D {
  const w = param(ctx, `${name}.weight`) as tf.Tensor4D
  const k = w.shape[0]
  const b = ctx.params.get(`${name}.bias`)
  if (pad === (k - 1) / 2 && (stride === 1 || stride === 2)) return conv2dFast(x, w, stride, b)
  const y = tf.conv2d(x, w, stride, pad)
  return b ? y.add(b) : y
}

export function linear(ctx: ForwardContext, name: string, x: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(x, param(ctx, `${name}.weight`) as tf.Tensor2D).add(param(ctx, `${name}.bias`))
}

/**
 * BatchNorm over every axis but the last (NHWC or [B, C]). Training: normalise with the biased
 * batch variance and record the unbiased one for running_var, as PyTorch does. Eval: running stats.
 */
export function batchNorm(ctx: ForwardContext, name: string, x: tf.Tensor, relu = false): tf.Tensor {
  const weight = param(ctx, `${name}.weight`)
  const bias = param(ctx, `${name}.bias`)
  if (ctx.training) {
    const {y, mean, variance} = trainBatchNorm(x, weight, bias, BN_EPS, {relu})
    if (ctx.batchStats) {
      const n = x.size / x.shape[x.shape.length - 1]
      ctx.batchStats.push({name, mean, variance: tf.keep(variance.mul(n > 1 ? n / (n - 1) : 1))})
      variance.dispose()
    } else {
      tf.dispose([mean, variance])
    }
    return y
  }
  const y = tf.batchNorm(
    x,
    ctx.buffers.get(`${name}.running_mean`)!,
    ctx.buffers.get(`${name}.running_var`)!,
    bias,
    weight,
    BN_EPS
  )
  return relu ? tf.relu(y) : y
}

/** ReLU(BatchNorm(x)) as one op in training (the BN output is not kept for the backward pass). */
export function batchNormRelu(ctx: ForwardContext, name: string, x: tf.Tensor): tf.Tensor {
  return batchNorm(ctx, name, x, true)
}

/** running <- (1 - momentum) * running + momentum * batch, in call order; disposes the recorded stats. */
export function applyBatchStats(buffers: ParamMap, stats: BatchStat[], counts: Map<string, number>): void {
  for (const s of stats) {
    const rm = buffers.get(`${s.name}.running_mean`)!
    const rv = buffers.get(`${s.name}.running_var`)!
    tf.tidy(() => {
      rm.assign(rm.mul(1 - BN_MOMENTUM).add(s.mean.mul(BN_MOMENTUM)))
      rv.assign(rv.mul(1 - BN_MOMENTUM).add(s.variance.mul(BN_MOMENTUM)))
    })
    counts.set(s.name, (counts.get(s.name) ?? 0) + 1)
    s.mean.dispose()
    s.variance.dispose()
  }
}

/** Forward: the one-hot of the argmax over channels; backward: the gradient of `soft` (straight-through). */
const straightThroughOneHot: (soft: tf.Tensor) => tf.Tensor = tf.customGrad(((
  soft: tf.Tensor,
  save: (t: tf.Tensor[]) => void
) => {
  save([])
  const depth = soft.shape[soft.shape.length - 1]
  const hard = tf.oneHot(tf.argMax(soft, -1), depth).toFloat()
  return {value: hard, gradFunc: (dy: tf.Tensor) => dy}
}) as never) as never

/**
 * F.gumbel_softmax(logits, tau=1, hard=True) over the channel (last) axis: the forward pass is
 * the one-hot of argmax(logits + g), the backward pass the gradient of softmax(logits + g)
 * (docs/REFERENCE.md §10). `seed` makes the Gumbel noise reproducible.
 */
export function gumbelHard(logits: tf.Tensor, seed: number): tf.Tensor {
  // float32 rounds draws just below 1 up to 1, and -log(-log(1)) = inf turns softmax into NaN
  const u = tf.randomUniform(logits.shape, 1e-10, 1, 'float32', seed).clipByValue(1e-10, 1 - 1e-7)
  const g = tf.neg(tf.log(tf.neg(tf.log(u))))
  const soft = tf.softmax(logits.add(g), -1)
  return straightThroughOneHot(soft)
}

/** Deterministic one-hot of argmax(logits): eval and extraction (a deliberate fix of §3.2's noisy eval). */
export function argmaxOneHot(logits: tf.Tensor): tf.Tensor {
  const depth = logits.shape[logits.shape.length - 1]
  return tf.oneHot(tf.argMax(logits, -1), depth).toFloat()
}
