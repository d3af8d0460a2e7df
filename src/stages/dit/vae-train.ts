// The demo's own VAE (dit.vae.train): a small AutoencoderKL trained from scratch on the training
// images, so that the from-scratch DiT works on latents as PixArt does on SD-VAE latents
// (docs/REFERENCE.md §5.1) instead of on pixels. Why: a 64-token pixel DiT with 4x4 patches draws each
// patch on its own; after the demo's few minutes its samples are blocky patch mosaics, and still
// are after 7.5x the steps (docs/RESULTS.md, session 5). The conv decoder here turns the same
// 64 tokens into smooth lesions. Loss: L1 reconstruction + klWeight * KL, the SD VAE recipe
// without its LPIPS and GAN terms. Every random draw of step i comes from (seed, i).
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {promises as fs} from 'node:fs'
import {AdamW} from '../../train/adamw.js'
import {vaeDecode, vaeEncode, type VaeConfig} from '../../models/vae/autoencoder.js'
import {initVaeParams, vaeDiffusersConfig} from '../../models/vae/init.js'
import {exportParams, kindOf} from '../../models/params.js'
import {readSafetensorsMetadata, writeSafetensors} from '../../io/safetensors.js'
import {pathExists, sha256, stableStringify, writeJsonAtomic} from '../../io/atomic.js'
import {loadVae} from '../../models/vae/load.js'
import type {PixArtConfig} from '../../models/pixart/config.js'
import type {MedgenConfig} from '../../config/schema.js'
import {log} from '../../util/log.js'
import {readImageSquare, readTrainingRows} from './data.js'
import {lossSummary} from './trainer.js'
import {Rng, deriveSeed} from '../../util/rng.js'
import {progress} from '../../util/progress.js'
import {gradientsByParamName} from '../../train/gradients.js'
import {loadVariables, runTrainer, type StepOutcome} from '../../train/trainer.js'
import {UserError} from '../../errors.js'
import {datasetPathOf, diffusersFiles, runLayout} from '../../run/layout.js'

export interface VaeTrainOptions {
  steps: number
  batchSize: number
  lr: number
  klWeight: number
  seed: number
  /** checkpoints to resume from and write (absent: none) */
  checkpoints?: {dir: string; every: number; keep: number}
  /** resume from the newest checkpoint (default true; false starts over) */
  resume?: boolean
  /** per-step losses (absent: none) */
  losses?: string
  /** more of what a checkpoint must match beside the architecture, size, seed and batch (e.g. the images) */
  identity?: Record<string, unknown>
  /** test hook: end after this many steps without their checkpoint, as kill -9 would */
  crashAfter?: number
}

export interface TrainedVae {
  /** scaling_factor = 1 / std of the posterior means over the training images (as diffusers set 0.18215 for SD) */
  config: VaeConfig
  params: Map<string, tf.Variable>
  /** training loss per step (L1 + klWeight * KL; the KL term is ~1e-6 of it) */
  history: number[]
}

/**
 * The VAE's training loss on a batch x [B,side,side,3]: encode, sample z = mean + exp(logvar/2) *
 * noise (noise [B,side/down,side/down,latent_channels]), decode; L1 reconstruction + klWeight * KL
 * to N(0, 1). Also the step `npm run profile -- --model vae-demo` times (scripts/lib/workloads.ts).
 */
export function vaeTrainingLoss(
  w: {params: Map<string, tf.Tensor>},
  cfg: VaeConfig,
  x: tf.Tensor4D,
  noise: tf.Tensor4D,
  klWeight: number
): {loss: tf.Scalar; reconstruction: tf.Scalar; kl: tf.Scalar} {
  const post = vaeEncode(w, cfg, x)
  const z = post.mean.add(tf.exp(post.logvar.mul(0.5)).mul(noise)) as tf.Tensor4D
  const reconstruction = tf.mean(tf.abs(vaeDecode(w, cfg, z).sub(x))) as tf.Scalar
  const kl = tf.mean(post.mean.square().add(post.logvar.exp()).sub(1).sub(post.logvar)).mul(0.5) as tf.Scalar
  return {loss: reconstruction.add(kl.mul(klWeight)) as tf.Scalar, reconstruction, kl}
}

/** images: [side, side, 3] in [-1, 1]; side must be divisible by 2^(blocks - 1). Resumes through src/train/trainer.ts. */
export async function trainVae(
  images: Float32Array[],
  side: number,
  base: Omit<VaeConfig, 'scaling_factor'>,
  opts: VaeTrainOptions
): Promise<TrainedVae> {
  if (images.length === 0) throw new UserError('dit.vae.train: the training split has no images')
  const down = 2 ** (base.block_out_channels.length - 1)
  if (side % down !== 0)
    throw new UserError(
      `dit.vae.channels: ${base.block_out_channels.length} blocks downsample by ${down}, which does not divide the image side ${side}`
    )
  const cfg: VaeConfig = {...base, scaling_factor: 1}
  const params = initVaeParams(cfg, new Rng(deriveSeed(opts.seed, 'vae-init', 0)))
  const optimizer = new AdamW(params, {lr: opts.lr})
  const w = {params: params as Map<string, tf.Tensor>}
  const per = side * side * 3
  const latentSize = (side / down) ** 2 * cfg.latent_channels
  let history: number[] = []
  const step = (i: number): StepOutcome => {
    const rng = new Rng(deriveSeed(opts.seed, 'vae-step', i))
    const batch = Array.from({length: opts.batchSize}, () => rng.int(images.length))
    const host = new Float32Array(batch.length * per)
    batch.forEach((item, r) => host.set(images[item], r * per))
    const noise = rng.normalArray(batch.length * latentSize)
    let terms: tf.Scalar[] = []
    const {value, grads} = tf.tidy(() => {
      const x = tf.tensor4d(host, [batch.length, side, side, 3])
      const eps = tf.tensor4d(noise, [batch.length, side / down, side / down, cfg.latent_channels])
      return tf.variableGrads(() => {
        const {loss, reconstruction, kl} = vaeTrainingLoss(w, cfg, x, eps, opts.klWeight)
        terms = [tf.keep(reconstruction), tf.keep(kl)]
        return loss
      }, [...params.values()])
    })
    optimizer.applyGradients(gradientsByParamName(params, grads))
    tf.dispose(Object.values(grads))
    const [loss, l1, kl] = [value, ...terms].map(t => t.dataSync()[0])
    tf.dispose([value, ...terms])
    if (Number.isFinite(loss)) history.push(loss)
    return {loss, lr: opts.lr, terms: {l1, kl}}
  }
  try {
    await runTrainer<{history: number[]}>({
      label: 'finetune-dit: training the VAE',
      totalSteps: opts.steps,
      optimizer,
      step,
      checkpoints: opts.checkpoints ?? null,
      resume: opts.resume ?? true,
      losses: opts.losses ?? null,
      crashAfter: opts.crashAfter,
      // steps and lr may change on resume
      identity: {
        vae: base,
        side,
        seed: opts.seed,
        batchSize: opts.batchSize,
        klWeight: opts.klWeight,
        images: images.length,
        ...opts.identity
      },
      tensors: () => params,
      loadTensors: (saved, path) => loadVariables(params, saved, path),
      state: () => ({history}),
      loadState: saved => {
        history = [...saved.history]
      }
    })
  } finally {
    optimizer.dispose()
  }
  cfg.scaling_factor = 1 / latentStd(images, side, cfg, w)
  return {config: cfg, params, history}
}

/** Standard deviation of the posterior means over all images (batches of 32). */
function latentStd(images: Float32Array[], side: number, cfg: VaeConfig, w: {params: Map<string, tf.Tensor>}): number {
  let sumSq = 0
  let sum = 0
  let count = 0
  for (let s = 0; s < images.length; s += 32) {
    const chunk = images.slice(s, s + 32)
    const host = new Float32Array(chunk.length * side * side * 3)
    chunk.forEach((img, r) => host.set(img, r * img.length))
    const mean = tf.tidy(() => vaeEncode(w, cfg, tf.tensor4d(host, [chunk.length, side, side, 3])).mean)
    for (const v of mean.dataSync()) {
      sum += v
      sumSq += v * v
      count++
    }
    mean.dispose()
  }
  const m = sum / count
  return Math.max(1e-6, Math.sqrt(Math.max(0, sumSq / count - m * m)))
}

/** Writes a diffusers vae/ folder (config.json + diffusion_pytorch_model.safetensors) that models/vae/load.ts reads back. */
export async function saveVae(
  dir: string,
  vae: {config: VaeConfig; params: Map<string, tf.Tensor>},
  metadata: Record<string, string> = {}
): Promise<void> {
  const state = await exportParams(vae.params, (name, t) => kindOf(t.shape, name))
  await writeSafetensors(join(dir, diffusersFiles.weights), state, {format: 'pt', ...metadata})
  await writeJsonAtomic(join(dir, diffusersFiles.config), vaeDiffusersConfig(vae.config))
}

export interface DemoVae {
  config: VaeConfig
  params: Map<string, tf.Tensor>
  folder: string
  /** identifies these weights in the latent cache (the folder alone does not: it is retrained in place) */
  weightsKey: string
  summary: {
    steps: number
    firstLoss: number
    lastTenthMean: number
    scalingFactor: number
    seconds: number
    reused: boolean
  }
}

/**
 * The VAE of dit.vae.train for this run: trained on the training split at the preset's pixel size
 * and saved to <dit>/vae/, or reused from there when `reuse` and it was trained for the same
 * config, seed and images (a resumed finetune-dit must keep the VAE its checkpoints were trained on).
 */
export async function demoVae(
  config: MedgenConfig,
  runDir: string,
  transformer: PixArtConfig,
  reuse: boolean
): Promise<DemoVae> {
  const v = config.dit.vae
  for (const c of v.channels)
    if (c % v.groups !== 0)
      throw new UserError(`dit.vae.groups ${v.groups} does not divide dit.vae.channels entry ${c}`)
  const side = transformer.sample_size * 2 ** (v.channels.length - 1)
  const train = await readTrainingRows(runDir)
  const datasetPath = datasetPathOf(config)
  const key = sha256(
    stableStringify({vae: v, side, seed: config.run.seed, dataset: datasetPath, files: train.map(r => r.file)})
  ).slice(0, 16)
  const folder = runLayout(runDir).dit.vae
  const weightsPath = join(folder, diffusersFiles.weights)
  if (reuse && (await pathExists(weightsPath))) {
    const meta = await readSafetensorsMetadata(weightsPath)
    if (meta.medgen_key === key) {
      log.info(`finetune-dit: reusing the VAE in ${folder} (same config and images)`)
      return {
        ...(await loadVae(folder)),
        folder,
        weightsKey: key,
        summary: {...JSON.parse(meta.medgen_summary), reused: true}
      }
    }
  }
  const bar = progress('finetune-dit: images for the VAE', train.length)
  const images: Float32Array[] = []
  for (const r of train) {
    images.push(await readImageSquare(join(datasetPath, r.file), side))
    bar.tick()
  }
  bar.stop()
  const started = Date.now()
  const base = {
    in_channels: 3,
    out_channels: 3,
    latent_channels: v.latentChannels,
    block_out_channels: v.channels,
    layers_per_block: 1,
    norm_num_groups: v.groups
  }
  const layout = runLayout(runDir).dit
  const trained = await trainVae(images, side, base, {
    steps: v.steps,
    batchSize: v.batchSize,
    lr: v.lr,
    klWeight: v.klWeight,
    seed: config.run.seed,
    checkpoints: {dir: layout.vaeCheckpoints, every: config.dit.checkpointingSteps, keep: config.dit.keepCheckpoints},
    resume: reuse,
    losses: layout.vaeLosses,
    identity: {dataset: datasetPath, files: sha256(stableStringify(train.map(r => r.file))).slice(0, 16)}
  })
  const h = trained.history
  const summary = {
    steps: h.length,
    firstLoss: h[0],
    lastTenthMean: lossSummary(h.map(loss => ({loss}))).lastTenthMean,
    scalingFactor: trained.config.scaling_factor,
    seconds: (Date.now() - started) / 1000,
    reused: false
  }
  await saveVae(folder, trained, {medgen_key: key, medgen_summary: JSON.stringify(summary)})
  // its checkpoints were only needed to resume this training; the DiT's keep the VAE they used
  await fs.rm(layout.vaeCheckpoints, {recursive: true, force: true})
  log.info(
    `finetune-dit: VAE ${v.channels.join('/')} trained in ${summary.seconds.toFixed(0)} s, L1 ${summary.firstLoss.toFixed(3)} -> ${summary.lastTenthMean.toFixed(3)}, scaling factor ${summary.scalingFactor.toFixed(4)}`
  )
  return {config: trained.config, params: trained.params, folder, weightsKey: key, summary}
}
