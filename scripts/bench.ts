// `npm run bench`: medgen's PixArt training step and inference forward on the shapes of
// bench (bench-tiny.json, bench-small.json), side by side with the PyTorch reference
// (torch_pixart.py, when Debian's python3-torch is importable), plus the backend's matmul
// GFLOP/s, the step's achieved GFLOP/s, Inception throughput and peak RSS. Appends a dated
// section to docs/BENCHMARKS.md. Flags: --iters N --warmup N --only tiny|small --no-torch --no-write
import * as tf from '@tensorflow/tfjs'
import {execFileSync, spawnSync} from 'node:child_process'
import {appendFileSync, existsSync, readFileSync} from 'node:fs'
import {cpus, totalmem} from 'node:os'
import {join} from 'node:path'
import {initBackend} from '../src/backend/index.js'
import {parsePixArtConfig, countPixArtParams, innerDim, type PixArtConfig} from '../src/models/pixart/config.js'
import {initPixArtParams} from '../src/models/pixart/load.js'
import {pixartForward} from '../src/models/pixart/transformer.js'
import {useCheckpointing} from '../src/models/pixart/checkpoint.js'
import {AdamW} from '../src/train/adamw.js'
import {Rng} from '../src/util/rng.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt }
const has = (name: string) => argv.includes(`--${name}`)
const benchDir = new URL('../bench/', import.meta.url).pathname
const repo = new URL('../', import.meta.url).pathname

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

async function time(fn: () => Promise<void> | void, iters: number, warmup: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn()
  const out: number[] = []
  for (let i = 0; i < iters; i++) { const t0 = performance.now(); await fn(); out.push(performance.now() - t0) }
  return out
}

/** FLOPs of one forward (multiply-adds x2): linear layers + attention score/value products. */
function forwardFlops(c: PixArtConfig, batch: number, tokens: number, condTokens: number): number {
  const d = innerDim(c)
  const perBlockLinear = tokens * (4 * d * d + 2 * d * d + 8 * d * d) + condTokens * 0 // attn1 qkvo, attn2 q/o, ff 2x(4d*d)
  const crossKV = condTokens * 2 * d * d
  const attn = 2 * tokens * tokens * d + 2 * tokens * condTokens * d
  const blocks = c.num_layers * (perBlockLinear + crossKV + attn)
  const embed = tokens * c.in_channels * c.patch_size ** 2 * d + tokens * d * c.patch_size ** 2 * c.out_channels + condTokens * (c.caption_channels * d + d * d)
  return 2 * batch * (blocks + embed)
}

async function benchConfig(file: string, iters: number, warmup: number) {
  const raw = JSON.parse(readFileSync(join(benchDir, file), 'utf8'))
  const cfg = parsePixArtConfig(raw, file)
  const B = raw.batch as number
  const L = raw.num_condition_tokens as number
  const S = cfg.sample_size
  const rng = new Rng(0)
  const params = initPixArtParams(cfg, rng)
  // The bench inits every parameter randomly (the reference overwrites diffusers' init too).
  for (const v of params.values()) v.assign(tf.randomNormal(v.shape, 0, 0.02, 'float32', rng.tfSeed()))
  const opt = new AdamW(params, {lr: 1e-4})
  const x = tf.randomNormal([B, S, S, cfg.in_channels], 0, 1, 'float32', 1) as tf.Tensor4D
  const ctx = tf.randomNormal([B, L, cfg.caption_channels], 0, 1, 'float32', 2) as tf.Tensor3D
  const maskRows = Array.from({length: B}, (_, b) => Array.from({length: L}, (_, j) => (b === 0 && j >= L / 2 ? 0 : 1)))
  const mask = tf.tensor2d(maskRows) as tf.Tensor2D
  const target = tf.randomNormal([B, S, S, cfg.out_channels], 0, 1, 'float32', 3)
  const ts = Array.from({length: B}, () => rng.int(1000))
  const trainable = [...params.values()]
  // what finetune-dit would do at this size (dit.gradientCheckpointing: auto); torch does not
  const checkpointBlocks = useCheckpointing('auto', cfg, B)
  const trainMs = await time(async () => {
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
  }, iters, warmup)
  const x2 = x.slice([0, 0, 0, 0], [2, S, S, cfg.in_channels]) as tf.Tensor4D
  const c2 = ctx.slice([0, 0, 0], [2, L, cfg.caption_channels]) as tf.Tensor3D
  const m2 = mask.slice([0, 0], [2, L]) as tf.Tensor2D
  const inferMs = await time(async () => {
    const out = tf.tidy(() => pixartForward({params}, cfg, {x: x2, timesteps: [500, 500], context: c2, mask: m2}).sample)
    await out.data()
    out.dispose()
  }, Math.max(iters, 10), warmup)
  const tokens = (S / cfg.patch_size) ** 2
  const stepFlops = 3 * forwardFlops(cfg, B, tokens, L)
  const result = {
    config: file, params: countPixArtParams(cfg), batch: B, checkpointBlocks,
    train_step_ms_median: median(trainMs), infer_b2_ms_median: median(inferMs),
    train_step_gflops: stepFlops / (median(trainMs) / 1000) / 1e9,
  }
  tf.dispose([x, ctx, mask, target, x2, c2, m2])
  opt.dispose()
  for (const v of params.values()) v.dispose()
  return result
}

function matmulGflops(n = 512): number {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 4)
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 5)
  // block bodies: a tidy that *returns* the typed array walks its million elements looking for
  // tensors, which made this figure read 1-2.6 GFLOP/s instead of ~20
  for (let i = 0; i < 2; i++) tf.tidy(() => { tf.matMul(a, b).dataSync() })
  const reps = 10
  const t0 = performance.now()
  for (let i = 0; i < reps; i++) tf.tidy(() => { tf.matMul(a, b).dataSync() })
  const s = (performance.now() - t0) / 1000
  tf.dispose([a, b])
  return (2 * n ** 3 * reps) / s / 1e9
}

function torchReference(file: string, iters: number, warmup: number): any | null {
  if (has('no-torch')) return null
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'
  if (spawnSync(python, ['-c', 'import torch'], {stdio: 'ignore'}).status !== 0) return null
  const out = execFileSync(python, [join(benchDir, 'torch_pixart.py'), '--config', join(benchDir, file), '--threads', String(cpus().length),
    '--iters', String(iters), '--warmup', String(warmup)], {encoding: 'utf8', maxBuffer: 1 << 24})
  return JSON.parse(out.slice(out.indexOf('{')))
}

async function inceptionThroughput(): Promise<number | null> {
  try {
    const mod: any = await import('../src/models/inception/index.js')
    if (typeof mod.benchmarkInception !== 'function') return null
    return await mod.benchmarkInception(8)
  } catch { return null }
}

async function main(): Promise<void> {
  const backend = await initBackend((process.env.MEDGEN_BACKEND as any) ?? 'auto')
  const iters = Number(opt('iters', '5'))
  const warmup = Number(opt('warmup', '2'))
  const only = opt('only', '')
  const files = ['bench-tiny.json', 'bench-small.json'].filter(f => !only || f.includes(only))
  const rows: string[] = []
  const gflops = matmulGflops()
  console.log(`backend ${backend}; matmul 512^3: ${gflops.toFixed(2)} GFLOP/s`)
  for (const file of files) {
    const mine = await benchConfig(file, iters, warmup)
    const ref = torchReference(file, iters, warmup)
    const ratioTrain = ref ? mine.train_step_ms_median / ref.train_step_ms_median : null
    const ratioInfer = ref ? mine.infer_b2_ms_median / ref.infer_b2_ms_median : null
    console.log(JSON.stringify({...mine, torch: ref && {train_step_ms_median: ref.train_step_ms_median, infer_b2_ms_median: ref.infer_b2_ms_median}, ratio_train: ratioTrain, ratio_infer: ratioInfer}))
    rows.push(`| ${file} (${(mine.params / 1e6).toFixed(2)}M params, batch ${mine.batch}${mine.checkpointBlocks ? ', blocks checkpointed' : ''}) | ${mine.train_step_ms_median.toFixed(1)} | ${ref ? ref.train_step_ms_median.toFixed(1) : 'n/a'} | ${ratioTrain?.toFixed(2) ?? 'n/a'} | ${mine.infer_b2_ms_median.toFixed(1)} | ${ref ? ref.infer_b2_ms_median.toFixed(1) : 'n/a'} | ${ratioInfer?.toFixed(2) ?? 'n/a'} | ${mine.train_step_gflops.toFixed(2)} |`)
  }
  const inception = await inceptionThroughput()
  if (inception !== null) console.log(`inception-fid feature throughput: ${inception.toFixed(2)} images/s at 299 px`)
  let demo = ''
  const runJson = join(repo, 'runs/demo/run.json')
  if (existsSync(runJson)) {
    const run = JSON.parse(readFileSync(runJson, 'utf8'))
    // a rerun that skipped everything says nothing about stage times
    if (run.stages.every((s: any) => s.skipped)) run.stages = []
    demo = run.stages.length === 0 ? '' : run.stages.map((s: any) => `${s.stage} ${s.seconds.toFixed(1)} s${s.skipped ? ' (skipped)' : ''}`).join(', ') + `; total ${run.seconds.toFixed(1)} s`
    console.log(`demo stages: ${demo}`)
  }
  const rssMb = process.resourceUsage().maxRSS / 1024
  console.log(`peak RSS: ${rssMb.toFixed(0)} MB`)
  if (has('no-write')) return
  const cpu = cpus()[0]?.model ?? 'unknown cpu'
  appendFileSync(join(repo, 'docs/BENCHMARKS.md'), `
## ${new Date().toISOString().slice(0, 10)}: npm run bench (${backend})
Machine: ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. Iterations: ${iters} after ${warmup} warm-up (medians).
Backend matmul 512x512x512: ${gflops.toFixed(2)} GFLOP/s.

| config | medgen train step ms | PyTorch train step ms | ratio | medgen infer (b=2) ms | PyTorch infer ms | ratio | medgen step GFLOP/s |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

${inception !== null ? `Inception (FID variant) features: ${inception.toFixed(2)} images/s at 299 px.\n` : ''}${demo ? `Demo stage wall times: ${demo}.\n` : ''}Peak RSS of the bench process: ${rssMb.toFixed(0)} MB.
`)
}

await main()
