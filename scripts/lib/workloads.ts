// The workloads `npm run bench` and `npm run profile` time, built once so both measure the same
// thing: a PixArt training step and inference forward on a bench/*.json shape (the inputs
// bench/torch_pixart.py makes), an SDNet training step (train-visual's, random images and disc
// masks) and Inception (FID variant) pool3 features at 299 px with hash-filled weights.
import * as tf from '@tensorflow/tfjs'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parsePixArtConfig, innerDim, type PixArtConfig} from '../../src/models/pixart/config.js'
import {pixartForward, countPixArtParams, initPixArtParams} from '../../src/models/pixart/transformer.js'
import {useCheckpointing} from '../../src/models/pixart/checkpoint.js'
import {AdamW} from '../../src/train/adamw.js'
import {Rng} from '../../src/util/rng.js'
import {SDNet} from '../../src/models/sdnet/model.js'
import {presetConfig} from '../../src/models/sdnet/config.js'
import {sdnetStepGradients} from '../../src/stages/visual/step.js'
import {splitBackward} from '../../src/stages/visual/trainer.js'
import {hashFill} from '../../src/models/inception/fill.js'
import {inceptionForward, inceptionParamShapes} from '../../src/models/inception/inception.js'
import {disposeInception, foldInceptionWeights} from '../../src/models/inception/weights.js'
import type {VaeConfig} from '../../src/models/vae/autoencoder.js'
import {vaeTrainingLoss} from '../../src/stages/dit/vae-train.js'
import {initVaeParams} from '../../src/models/vae/init.js'

export const benchDir = new URL('../../bench/', import.meta.url).pathname

export interface Workload {
  /** runs one unit of work (a training step or a forward) to completion, data read back */
  run(): Promise<void>
  /** floating-point operations of one run, where known (multiply-adds count 2) */
  flops?: number
  describe: string
  dispose(): void
}

/** FLOPs of one PixArt forward: linear layers + attention score/value products. */
export function pixartForwardFlops(c: PixArtConfig, batch: number, tokens: number, condTokens: number): number {
  const d = innerDim(c)
  const perBlockLinear = tokens * (4 * d * d + 2 * d * d + 8 * d * d) // attn1 q/k/v/o, attn2 q/o, ff 2 x (4d x d)
  const crossKV = condTokens * 2 * d * c.cross_attention_dim
  const attn = 2 * tokens * tokens * d + 2 * tokens * condTokens * d
  const blocks = c.num_layers * (perBlockLinear + crossKV + attn)
  const embed =
    tokens * c.in_channels * c.patch_size ** 2 * d +
    tokens * d * c.patch_size ** 2 * c.out_channels +
    condTokens * (c.caption_channels * d + d * d)
  return 2 * batch * (blocks + embed)
}

export interface PixArtBench {
  file: string
  cfg: PixArtConfig
  batch: number
  params: number
  checkpointBlocks: boolean
  train: Workload
  /** forward at batch 2 (a CFG pair), no tape */
  infer: Workload
  dispose(): void
}

/** A bench/*.json file: the PixArt config plus `batch` and `num_condition_tokens`. */
export function readBenchConfig(file: string): {cfg: PixArtConfig; batch: number; condTokens: number} {
  const raw = JSON.parse(readFileSync(join(benchDir, file), 'utf8'))
  return {cfg: parsePixArtConfig(raw, file), batch: raw.batch as number, condTokens: raw.num_condition_tokens as number}
}

export function pixartBench(file: string, checkpointing: 'auto' | 'on' | 'off' = 'auto'): PixArtBench {
  const {cfg, batch: B, condTokens: L} = readBenchConfig(file)
  const S = cfg.sample_size
  const rng = new Rng(0)
  const params = initPixArtParams(cfg, rng)
  // every parameter random (the reference overwrites diffusers' zero inits too)
  for (const v of params.values()) v.assign(tf.tidy(() => tf.randomNormal(v.shape, 0, 0.02, 'float32', rng.tfSeed())))
  const opt = new AdamW(params, {lr: 1e-4})
  const x = tf.randomNormal([B, S, S, cfg.in_channels], 0, 1, 'float32', 1) as tf.Tensor4D
  const ctx = tf.randomNormal([B, L, cfg.caption_channels], 0, 1, 'float32', 2) as tf.Tensor3D
  const maskRows = Array.from({length: B}, (_, b) => Array.from({length: L}, (_, j) => (b === 0 && j >= L / 2 ? 0 : 1)))
  const mask = tf.tensor2d(maskRows) as tf.Tensor2D
  const target = tf.randomNormal([B, S, S, cfg.out_channels], 0, 1, 'float32', 3)
  const ts = Array.from({length: B}, () => rng.int(1000))
  const trainable = [...params.values()]
  // what finetune-dit does at this size (dit.gradientCheckpointing: auto); torch does not checkpoint
  const checkpointBlocks = useCheckpointing(checkpointing, cfg, B)
  const tokens = (S / cfg.patch_size) ** 2
  const train: Workload = {
    describe: `${file} training step (forward, MSE, backward, AdamW), batch ${B}${checkpointBlocks ? ', blocks checkpointed' : ''}`,
    flops: 3 * pixartForwardFlops(cfg, B, tokens, L),
    async run() {
      const {value, grads} = tf.variableGrads(() => {
        const out = pixartForward({params}, cfg, {x, timesteps: ts, context: ctx, mask, checkpointBlocks}).sample
        return tf.losses.meanSquaredError(target, out) as tf.Scalar
      }, trainable)
      const named = new Map<string, tf.Tensor>()
      for (const [name, v] of params) named.set(name, grads[v.name])
      opt.applyGradients(named)
      await value.data()
      value.dispose()
      tf.dispose(Object.values(grads))
    },
    dispose() {}
  }
  const x2 = x.slice([0, 0, 0, 0], [2, S, S, cfg.in_channels]) as tf.Tensor4D
  const c2 = ctx.slice([0, 0, 0], [2, L, cfg.caption_channels]) as tf.Tensor3D
  const m2 = mask.slice([0, 0], [2, L]) as tf.Tensor2D
  const infer: Workload = {
    describe: `${file} inference forward, batch 2`,
    flops: pixartForwardFlops(cfg, 2, tokens, L),
    async run() {
      const out = tf.tidy(
        () => pixartForward({params}, cfg, {x: x2, timesteps: [500, 500], context: c2, mask: m2}).sample
      )
      await out.data()
      out.dispose()
    },
    dispose() {}
  }
  return {
    file,
    cfg,
    batch: B,
    params: countPixArtParams(cfg),
    checkpointBlocks,
    train,
    infer,
    dispose() {
      tf.dispose([x, ctx, mask, target, x2, c2, m2])
      opt.dispose()
      for (const v of params.values()) v.dispose()
    }
  }
}

/** train-visual's step on sdnet-small (64 px, ndf 16, the demo's scalar AdaIN), random data. */
export function sdnetBench(batch = 8): Workload {
  const config = presetConfig('sdnet-small', 'scalar')
  const model = SDNet.create(config, 1)
  const optimizer = new AdamW(model.params, {lr: 1e-3, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: 0})
  const S = config.imageSize
  const rng = new Rng('bench-sdnet')
  const x = tf.tidy(() => tf.tanh(tf.randomNormal([batch, S, S, 3], 0, 1, 'float32', 7))) as tf.Tensor4D
  const maskData = new Float32Array(batch * S * S)
  for (let i = 0; i < batch; i++) {
    const r = 8 + rng.int(16)
    for (let y = 0; y < S; y++)
      for (let c = 0; c < S; c++) maskData[i * S * S + y * S + c] = (y - S / 2) ** 2 + (c - S / 2) ** 2 < r * r ? 1 : 0
  }
  const mask = tf.tensor4d(maskData, [batch, S, S, 1])
  return {
    describe: `sdnet-small training step (64 px, batch ${batch})`,
    async run() {
      const noise = {gumbel: rng.tfSeed(), gumbelReco: rng.tfSeed(), eps: rng.tfSeed()}
      const {grads, stats} = sdnetStepGradients(model, x, mask, noise, {splitBackward: splitBackward(config)})
      optimizer.applyGradients(grads)
      model.updateRunningStats(stats)
      tf.dispose([...grads.values()])
    },
    dispose() {
      tf.dispose([x, mask])
      optimizer.dispose()
      model.dispose()
    }
  }
}

/**
 * The demo's own VAE training step (finetune-dit with dit.vae.train, src/stages/dit/vae-train.ts):
 * the schema's default AutoencoderKL (channels 16/32, GroupNorm 8, 4 latent channels) at 32 px,
 * batch 8, L1 + 1e-6 KL, Adam lr 3e-3, random images.
 */
export function vaeDemoBench(batch = 8): Workload {
  const cfg: VaeConfig = {
    in_channels: 3,
    out_channels: 3,
    latent_channels: 4,
    block_out_channels: [16, 32],
    layers_per_block: 1,
    norm_num_groups: 8,
    scaling_factor: 1
  }
  const params = initVaeParams(cfg, new Rng('bench-vae'))
  const optimizer = new AdamW(params, {lr: 3e-3})
  const w = {params: params as Map<string, tf.Tensor>}
  const x = tf.tidy(() => tf.tanh(tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 5))) as tf.Tensor4D
  const noise = tf.randomNormal([batch, 16, 16, 4], 0, 1, 'float32', 6) as tf.Tensor4D
  return {
    describe: `the demo's VAE training step (32 px, channels 16/32, batch ${batch})`,
    async run() {
      const {value, grads} = tf.variableGrads(() => vaeTrainingLoss(w, cfg, x, noise, 1e-6).loss, [...params.values()])
      const byName = new Map([...params].map(([name, p]) => [name, grads[p.name]]))
      optimizer.applyGradients(byName)
      await value.data()
      tf.dispose([value, ...Object.values(grads)])
    },
    dispose() {
      tf.dispose([x, noise])
      optimizer.dispose()
      for (const v of params.values()) v.dispose()
    }
  }
}

/** Inception pool3 features of `batch` 299 px images. */
export function inceptionBench(batch = 8): Workload & {batch: number} {
  const weights = foldInceptionWeights(hashFill(inceptionParamShapes()), 'hashfill')
  const x = tf.randomUniform([batch, 299, 299, 3], -1, 1, 'float32', 1) as tf.Tensor4D
  return {
    batch,
    describe: `Inception (FID) pool3 features, batch ${batch} at 299 px`,
    async run() {
      const {pool3} = inceptionForward(x, weights)
      await pool3.data()
      pool3.dispose()
    },
    dispose() {
      tf.dispose(x)
      disposeInception(weights)
    }
  }
}

/** 2n^3 / time of an n x n x n tf.matMul on the active backend, GFLOP/s (best of 3 rounds). */
export function matmulGflops(n = 512, reps = 10): number {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 4)
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 5)
  // block bodies: a tidy that *returns* the typed array walks its elements looking for tensors
  for (let i = 0; i < 2; i++)
    tf.tidy(() => {
      tf.matMul(a, b).dataSync()
    })
  let best = Infinity
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now()
    for (let i = 0; i < reps; i++)
      tf.tidy(() => {
        tf.matMul(a, b).dataSync()
      })
    best = Math.min(best, (performance.now() - t0) / 1000)
  }
  tf.dispose([a, b])
  return (2 * n ** 3 * reps) / best / 1e9
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** Runs `w` warmup times, then `iters` timed times; returns the times in ms. */
export async function time(w: Workload, iters: number, warmup: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await w.run()
  const out: number[] = []
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now()
    await w.run()
    out.push(performance.now() - t0)
  }
  return out
}
