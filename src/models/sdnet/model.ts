// SDNet variant A on RGB (paper §2.2, docs/REFERENCE.md §3): anatomy U-Net + Gumbel binarisation,
// segmentor, style VAE encoder, AdaIN decoder. Parameters are plain maps keyed by the authors'
// state_dict names; `forward` follows §3.3 (training re-encodes the reconstruction).
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import type {TensorMap} from '../../io/tensor-map.js'
import {Rng} from '../../util/rng.js'
import {tfToTorch, torchToTf, type ParamKind, type ParamMap} from '../params.js'
import {anatomyLogits, buildAnatomyEncoder} from './anatomy.js'
import type {SdnetConfig} from './config.js'
import {buildDecoder, buildSegmentor, buildStyleEncoder, decode, encodeStyle, reparameterize, segment} from './heads.js'
import {ParamBuilder, applyBatchStats, argmaxOneHot, gumbelHard, type BatchStat, type ForwardContext} from './layers.js'

export interface SdnetOutputs {
  /** one-hot anatomy map [B, H, W, 8] */
  anatomy: tf.Tensor4D
  /** class probabilities [B, H, W, 2] */
  seg: tf.Tensor4D
  mu: tf.Tensor2D
  logvar: tf.Tensor2D
  /** the code the reconstruction was decoded from: sampled z (training) or mu (eval) */
  z: tf.Tensor2D
  reco: tf.Tensor4D
  /** mu of the re-encoded reconstruction (training only) */
  muTilde?: tf.Tensor2D
}

/** Seeds for the random draws of one training forward, taken from the run's Rng. */
export interface ForwardNoise {
  gumbel: number
  gumbelReco: number
  eps: number
}

export class SDNet {
  /** forward calls in training mode per BatchNorm (state_dict num_batches_tracked) */
  readonly batchesTracked = new Map<string, number>()

  private constructor(
    readonly config: SdnetConfig,
    readonly params: ParamMap,
    readonly buffers: ParamMap,
    readonly kinds: Map<string, ParamKind>,
    readonly batchNorms: string[]
  ) {}

  static create(config: SdnetConfig, seed: number): SDNet {
    const b = new ParamBuilder(new Rng(seed).fork('sdnet-init'))
    buildAnatomyEncoder(b, config)
    buildSegmentor(b, config)
    buildStyleEncoder(b, config)
    buildDecoder(b, config)
    return new SDNet(config, b.params, b.buffers, b.kinds, b.batchNorms)
  }

  /** Trainable parameter count (weights, biases, BN affine; not running statistics). */
  parameterCount(prefix = ''): number {
    let n = 0
    for (const [name, v] of this.params) if (name.startsWith(prefix)) n += v.size
    return n
  }

  context(training: boolean, batchStats?: BatchStat[]): ForwardContext {
    return {training, params: this.params, buffers: this.buffers, batchStats}
  }

  /** Anatomy map: hard Gumbel-softmax with straight-through gradient in training; deterministic argmax otherwise. */
  anatomy(ctx: ForwardContext, x: tf.Tensor4D, gumbelSeed?: number): tf.Tensor4D {
    const logits = anatomyLogits(ctx, this.config, x)
    if (ctx.training) {
      if (gumbelSeed === undefined) throw new Error('training forward needs a Gumbel seed')
      return gumbelHard(logits, gumbelSeed) as tf.Tensor4D
    }
    return argmaxOneHot(logits) as tf.Tensor4D
  }

  segment(ctx: ForwardContext, a: tf.Tensor4D): tf.Tensor4D {
    return segment(ctx, a)
  }
  encodeStyle(ctx: ForwardContext, a: tf.Tensor4D, x: tf.Tensor4D) {
    return encodeStyle(ctx, this.config, a, x)
  }
  decode(ctx: ForwardContext, a: tf.Tensor4D, z: tf.Tensor2D): tf.Tensor4D {
    return decode(ctx, this.config, a, z)
  }

  /** docs/REFERENCE.md §3.3. Training: decode from sampled z and re-encode the reconstruction; eval: decode from mu. */
  forward(ctx: ForwardContext, x: tf.Tensor4D, noise?: ForwardNoise): SdnetOutputs {
    const out = this.forwardToReconstruction(ctx, x, noise)
    if (!ctx.training) return out
    return {...out, muTilde: this.reencode(ctx, out.reco, noise!)}
  }

  /** Everything up to the reconstruction: decoded from sampled z (training) or mu (eval). */
  forwardToReconstruction(ctx: ForwardContext, x: tf.Tensor4D, noise?: ForwardNoise): SdnetOutputs {
    if (ctx.training && !noise) throw new Error('training forward needs noise seeds')
    const anatomy = this.anatomy(ctx, x, noise?.gumbel)
    const seg = this.segment(ctx, anatomy)
    const {mu, logvar} = this.encodeStyle(ctx, anatomy, x)
    if (!ctx.training) return {anatomy, seg, mu, logvar, z: mu, reco: this.decode(ctx, anatomy, mu)}
    const z = reparameterize(mu, logvar, noise!.eps)
    return {anatomy, seg, mu, logvar, z, reco: this.decode(ctx, anatomy, z)}
  }

  /** Training's second pass (docs/REFERENCE.md §3.3): mu of the reconstruction's anatomy and style. */
  reencode(ctx: ForwardContext, reco: tf.Tensor4D, noise: ForwardNoise): tf.Tensor2D {
    return this.encodeStyle(ctx, this.anatomy(ctx, reco, noise.gumbelReco), reco).mu
  }

  /** Folds recorded batch statistics into the running averages (after the optimizer step). */
  updateRunningStats(stats: BatchStat[]): void {
    applyBatchStats(this.buffers, stats, this.batchesTracked)
  }

  /** state_dict in PyTorch layout: parameters, running stats and num_batches_tracked. */
  async stateDict(): Promise<TensorMap> {
    const out: TensorMap = new Map()
    for (const [name, v] of this.params) out.set(name, await tfToTorch(v, this.kinds.get(name)!))
    for (const [name, v] of this.buffers) out.set(name, await tfToTorch(v, 'plain'))
    for (const bn of this.batchNorms) {
      out.set(`${bn}.num_batches_tracked`, {
        dtype: 'I64',
        shape: [],
        data: new BigInt64Array([BigInt(this.batchesTracked.get(bn) ?? 0)])
      })
    }
    return out
  }

  /** Loads a state_dict written by stateDict() (or the authors' layout). Every tensor must be present with the right shape. */
  loadStateDict(dict: TensorMap, source: string): void {
    const assign = (name: string, v: tf.Variable, kind: ParamKind) => {
      const host = dict.get(name)
      if (!host) throw new UserError(`${source}: missing tensor ${name}`)
      const t = torchToTf(host, kind)
      if (t.shape.join(',') !== v.shape.join(',')) {
        t.dispose()
        throw new UserError(
          `${source}: ${name} has shape [${host.shape}], the model expects [${v.shape}] in tfjs layout; check visual.preset / visual.adain`
        )
      }
      v.assign(t)
      t.dispose()
    }
    for (const [name, v] of this.params) assign(name, v, this.kinds.get(name)!)
    for (const [name, v] of this.buffers) assign(name, v, 'plain')
    for (const bn of this.batchNorms) {
      const host = dict.get(`${bn}.num_batches_tracked`)
      if (host) this.batchesTracked.set(bn, Number(host.data[0]))
    }
  }

  dispose(): void {
    for (const v of [...this.params.values(), ...this.buffers.values()]) v.dispose()
  }
}
