// `medgen check-weights`: load a weights folder as its public repository ships it, run one
// forward at a named size (and for PixArt one LoRA training step), and say what it cost and what
// fits on this machine. Each phase records wall time, the process's peak RSS, the peak of the
// bytes tfjs tracks (src/backend/kernel-recorder.ts) and, on wasm, the heap's size. A phase that
// runs out of memory is reported (not thrown) with what it was estimated to need.
import * as tf from '@tensorflow/tfjs'
import {totalmem} from 'node:os'
import {UserError} from '../errors.js'
import {activeBackend} from '../backend/index.js'
import {
  installKernelRecorder,
  wasmHeapBytes,
  WASM_HEAP_LIMIT_BYTES,
  type KernelRecorder
} from '../backend/kernel-recorder.js'
import {inventoryOf, mainDtype, type WeightsInventory} from './inventory.js'
import {GiB, gb, modelSide, pixartForwardBytes, pixartLoraStepBytes, tokensAt} from './estimate.js'
import {loadPixArt} from '../models/pixart/load.js'
import {pixartForward, pixartParamShapes} from '../models/pixart/transformer.js'
import {innerDim, type PixArtConfig} from '../models/pixart/config.js'
import {adaptableModules, BROAD_TARGETS, createLora, disposeLora, loraParams} from '../models/lora.js'
import {loadVae} from '../models/vae/load.js'
import {vaeDecode, vaeEncode} from '../models/vae/autoencoder.js'
import {disposeWeights, loadEncoderWeights} from '../models/bert/load.js'
import {runEncoder} from '../models/bert/run.js'
import {AdamW} from '../train/adamw.js'
import {Rng} from '../util/rng.js'

export interface CheckOptions {
  /** image side in pixels for PixArt and the VAE */
  size: number
  /** BERT: number of captions and tokens per caption */
  captions: number
  seqLen: number
  /** PixArt: condition tokens per image (the HFFM gives 2) */
  condTokens: number
  /** PixArt: run the LoRA step */
  train: boolean
  loraRank: number
  /** PixArt LoRA step: recompute blocks in the backward pass */
  checkpoint: 'auto' | 'on' | 'off'
  seed: number
  /**
   * A PixArt phase estimated to need more than this is not run but reported as not fitting
   * (default: the 4 GB wasm heap on wasm, none elsewhere): a wasm module that runs out of memory
   * aborts, and can run nothing after, so trying costs the run and proves nothing.
   */
  memoryLimitBytes?: number
}

export const defaultCheckOptions: CheckOptions = {
  size: 256,
  captions: 16,
  seqLen: 32,
  condTokens: 2,
  train: true,
  loraRank: 8,
  checkpoint: 'auto',
  seed: 0
}

export interface PhaseReport {
  name: string
  ok: boolean
  skipped?: boolean
  /** skipped because its estimate is past the backend's memory (counts as a failure: it does not fit) */
  pastMemoryLimit?: boolean
  error?: string
  seconds: number
  /** process peak RSS so far (bytes) */
  peakRssBytes: number
  /** peak of the bytes tfjs tracks during this phase */
  trackedPeakBytes: number
  /** wasm linear memory after the phase (its high-water mark); null on other backends */
  wasmHeapBytes: number | null
  /** estimated need, where the phase has an estimate */
  estimatedBytes?: number
  detail: Record<string, unknown>
}

export interface CheckReport {
  folder: string
  model: string
  kind: WeightsInventory['kind']
  backend: string
  layout: WeightsInventory['layout']
  files: WeightsInventory['files']
  fileBytes: number
  tensors: number
  parameters: number
  dtype: string
  dtypes: WeightsInventory['dtypes']
  options: CheckOptions
  phases: PhaseReport[]
  /** one line per verdict: what fits and what does not, with what to use instead */
  fits: string[]
}

/** The phases so far; each is also handed to `onPhase` as it ends (the command prints it: a phase may take minutes). */
class PhaseLog {
  readonly list: PhaseReport[] = []
  constructor(private readonly onPhase?: (p: PhaseReport) => void) {}
  push(p: PhaseReport): void {
    this.list.push(p)
    this.onPhase?.(p)
  }
  at(i: number): PhaseReport | undefined {
    return this.list.at(i)
  }
}

const peakRss = (): number => process.resourceUsage().maxRSS * 1024

/** Out-of-memory failures of any backend, as opposed to bugs. */
export function isOutOfMemory(err: unknown): boolean {
  const m = String((err as Error)?.message ?? err)
  return /out of memory|Cannot enlarge memory|Array buffer allocation failed|WebAssembly\.Memory|memory access out of bounds|Aborted\(|OOM|allocat/i.test(
    m
  )
}

async function runPhase(
  name: string,
  rec: KernelRecorder,
  estimatedBytes: number | undefined,
  fn: () => Promise<Record<string, unknown>>
): Promise<PhaseReport> {
  rec.resetPeak()
  const start = performance.now()
  let detail: Record<string, unknown> = {}
  let error: string | undefined
  try {
    detail = await fn()
  } catch (err) {
    if (err instanceof UserError) throw err
    error = `${isOutOfMemory(err) ? 'out of memory: ' : ''}${String((err as Error)?.message ?? err).split('\n')[0]}`
  }
  return {
    name,
    ok: error === undefined,
    error,
    seconds: (performance.now() - start) / 1000,
    peakRssBytes: peakRss(),
    trackedPeakBytes: rec.peakBytes(),
    wasmHeapBytes: wasmHeapBytes(),
    estimatedBytes,
    detail
  }
}

/** A phase not run; `neededBytes` when the reason is that it does not fit. */
function skipped(name: string, why: string, neededBytes?: number): PhaseReport {
  return {
    name,
    ok: false,
    skipped: true,
    error: why,
    seconds: 0,
    peakRssBytes: peakRss(),
    trackedPeakBytes: 0,
    wasmHeapBytes: wasmHeapBytes(),
    detail: {},
    ...(neededBytes !== undefined && {pastMemoryLimit: true, estimatedBytes: neededBytes})
  }
}

/** The reason a phase is not run: its estimate is past the memory the backend can have. */
function pastLimit(estimatedBytes: number, o: CheckOptions): string | null {
  const limit = o.memoryLimitBytes ?? (activeBackend() === 'wasm' ? WASM_HEAP_LIMIT_BYTES : Infinity)
  return estimatedBytes > limit
    ? `not run: needs ~${gb(estimatedBytes)}, past the ${gb(limit)} ${o.memoryLimitBytes === undefined ? 'wasm heap' : 'memory limit'}`
    : null
}

function assertFinite(values: Float32Array | Int32Array | Uint8Array, what: string): void {
  for (let i = 0; i < values.length; i++)
    if (!Number.isFinite(values[i])) throw new Error(`${what} has a non-finite value at index ${i}`)
}

export function pixartName(cfg: PixArtConfig): string {
  if (cfg.num_layers === 28 && innerDim(cfg) === 1152) return 'PixArt-XL-2'
  return `PixArt (${cfg.num_layers} layers x ${innerDim(cfg)})`
}

function checkSize(cfg: PixArtConfig, size: number): void {
  const side = modelSide(cfg, size)
  if (!Number.isInteger(side) || side % cfg.patch_size !== 0) {
    throw new UserError(
      `--size ${size}: must give a model side divisible by patch_size ${cfg.patch_size}${cfg.in_channels === 4 ? " after the VAE's 8x downsampling" : ''} (try a multiple of ${cfg.in_channels === 4 ? 8 * cfg.patch_size : cfg.patch_size})`
    )
  }
}

async function checkPixArt(
  inv: WeightsInventory,
  o: CheckOptions,
  rec: KernelRecorder,
  phases: PhaseLog
): Promise<{cfg: PixArtConfig; checkpoint: boolean}> {
  const rng = new Rng(o.seed)
  let loaded: Awaited<ReturnType<typeof loadPixArt>> | null = null
  phases.push(
    await runPhase('load', rec, 4 * inv.parameters, async () => {
      loaded = await loadPixArt(inv.folder)
      checkSize(loaded.config, o.size)
      return {tensors: loaded.params.size}
    })
  )
  if (!loaded) return {cfg: null as unknown as PixArtConfig, checkpoint: false}
  const {config: cfg, params} = loaded as Awaited<ReturnType<typeof loadPixArt>>
  const side = modelSide(cfg, o.size)
  const x = tf.tensor4d(rng.normalArray(side * side * cfg.in_channels), [1, side, side, cfg.in_channels])
  const context = tf.tensor3d(rng.normalArray(o.condTokens * cfg.caption_channels), [
    1,
    o.condTokens,
    cfg.caption_channels
  ])
  const forwardEst = pixartForwardBytes(cfg, inv.parameters, o.size).total
  const forwardTooBig = pastLimit(forwardEst, o)
  if (forwardTooBig) phases.push(skipped(`forward ${o.size} px`, forwardTooBig, forwardEst))
  else
    phases.push(
      await runPhase(`forward ${o.size} px`, rec, forwardEst, async () => {
        const out = tf.tidy(() => pixartForward({params}, cfg, {x, timesteps: 500, context}).sample)
        const values = (await out.data()) as Float32Array
        const shape = out.shape
        out.dispose()
        assertFinite(values, 'PixArt output')
        return {tokens: tokensAt(cfg, o.size), outputShape: shape}
      })
    )
  const checkpoint =
    o.checkpoint === 'on' ||
    (o.checkpoint === 'auto' && pixartLoraStepBytes(cfg, inv.parameters, o.size, false).activations > GiB)
  const stepEst = pixartLoraStepBytes(cfg, inv.parameters, o.size, checkpoint).total
  const stepTooBig = pastLimit(stepEst, o)
  if (!o.train) phases.push(skipped(`LoRA step ${o.size} px`, 'not asked (--no-train)'))
  else if (!phases.at(-1)!.ok)
    phases.push(
      skipped(`LoRA step ${o.size} px`, `the forward pass ${phases.at(-1)!.skipped ? 'was not run' : 'failed'}`)
    )
  else if (stepTooBig) phases.push(skipped(`LoRA step ${o.size} px`, stepTooBig, stepEst))
  else {
    phases.push(
      await runPhase(`LoRA step ${o.size} px`, rec, stepEst, async () => {
        const lora = createLora(
          adaptableModules(pixartParamShapes(cfg)),
          BROAD_TARGETS,
          o.loraRank,
          o.loraRank,
          rng.fork('lora')
        )
        const trainable = new Map([...loraParams(lora)].map(([k, v]) => [k, v as tf.Variable]))
        const optimizer = new AdamW(trainable, {lr: 1e-4, weightDecay: 0})
        const noise = tf.tensor4d(rng.normalArray(side * side * cfg.in_channels), [1, side, side, cfg.in_channels])
        try {
          const {value, grads} = tf.variableGrads(() => {
            const out = pixartForward({params, lora}, cfg, {
              x,
              timesteps: 500,
              context,
              checkpointBlocks: checkpoint
            }).sample
            return out.slice([0, 0, 0, 0], [-1, -1, -1, cfg.in_channels]).sub(noise).square().mean() as tf.Scalar
          }, [...trainable.values()])
          const loss = (await value.data())[0]
          const named = new Map([...trainable.keys()].map(k => [k, grads[trainable.get(k)!.name]]))
          const gradNorm = Math.sqrt(
            tf.tidy(() => tf.addN([...named.values()].map(g => g.square().sum())).dataSync()[0])
          )
          optimizer.applyGradients(named, 1e-4)
          tf.dispose([value, ...Object.values(grads)])
          if (!Number.isFinite(loss) || !Number.isFinite(gradNorm))
            throw new Error(`LoRA step gave loss ${loss}, gradient norm ${gradNorm}`)
          return {
            loss,
            gradNorm,
            loraParameters: [...trainable.values()].reduce((a, v) => a + v.size, 0),
            adapters: lora.adapters.size,
            checkpointBlocks: checkpoint
          }
        } finally {
          optimizer.dispose()
          disposeLora(lora)
          noise.dispose()
        }
      })
    )
  }
  tf.dispose([x, context, ...params.values()])
  return {cfg, checkpoint}
}

async function checkVae(inv: WeightsInventory, o: CheckOptions, rec: KernelRecorder, phases: PhaseLog): Promise<void> {
  let loaded: Awaited<ReturnType<typeof loadVae>> | null = null
  phases.push(
    await runPhase('load', rec, 4 * inv.parameters, async () => {
      loaded = await loadVae(inv.folder)
      return {tensors: loaded.params.size}
    })
  )
  if (!loaded) return
  const {config, params} = loaded as Awaited<ReturnType<typeof loadVae>>
  if (o.size % 8 !== 0) throw new UserError(`--size ${o.size}: the VAE needs a multiple of 8`)
  const image = tf.randomUniform([1, o.size, o.size, 3], -1, 1, 'float32', o.seed)
  phases.push(
    await runPhase(`encode+decode ${o.size} px`, rec, undefined, async () => {
      const out = tf.tidy(() => vaeDecode({params}, config, vaeEncode({params}, config, image as tf.Tensor4D).mean))
      const values = (await out.data()) as Float32Array
      const shape = out.shape
      out.dispose()
      assertFinite(values, 'VAE output')
      return {outputShape: shape}
    })
  )
  tf.dispose([image, ...params.values()])
}

async function checkText(inv: WeightsInventory, o: CheckOptions, rec: KernelRecorder, phases: PhaseLog): Promise<void> {
  let loaded: Awaited<ReturnType<typeof loadEncoderWeights>> | null = null
  phases.push(
    await runPhase('load', rec, 4 * inv.parameters, async () => {
      loaded = await loadEncoderWeights(inv.folder, {expectArch: inv.kind as 'bert' | 'distilbert'})
      return {tensors: loaded.weights.size}
    })
  )
  if (!loaded) return
  const {config, weights} = loaded as Awaited<ReturnType<typeof loadEncoderWeights>>
  const seq = Math.min(o.seqLen, config.maxPositions)
  const rng = new Rng(o.seed)
  // Random token ids: the cost of an encoder pass depends on the lengths, not on the words.
  const ids = Int32Array.from({length: o.captions * seq}, () => rng.int(config.vocabSize))
  phases.push(
    await runPhase(`encode ${o.captions} captions x ${seq} tokens`, rec, undefined, async () => {
      const inputIds = tf.tensor2d(ids, [o.captions, seq], 'int32')
      const attentionMask = tf.onesLike(inputIds)
      const out = runEncoder(config, weights, {inputIds, attentionMask})
      const values = (await out.lastHiddenState.data()) as Float32Array
      const shape = out.lastHiddenState.shape
      tf.dispose([inputIds, attentionMask, out.lastHiddenState, out.poolerOutput].filter(Boolean) as tf.Tensor[])
      assertFinite(values, 'encoder output')
      return {outputShape: shape}
    })
  )
  disposeWeights(weights)
}

/** The "what fits" lines: measured phases against the wasm heap and RAM, and PixArt estimates at other sizes. */
export function fitsLines(report: CheckReport, cfg: PixArtConfig | null, checkpoint: boolean): string[] {
  const lines: string[] = []
  const ram = totalmem()
  const native =
    'use the tensorflow backend (npm install @tensorflow/tfjs-node, or tfjs-node-gpu with a GPU; --backend tensorflow)'
  for (const p of report.phases) {
    if (p.pastMemoryLimit) lines.push(`${report.model} ${p.name} on ${report.backend}: ${p.error}: ${native}`)
    if (p.skipped || (p.name === 'load' && p.ok)) continue
    const used = Math.max(p.trackedPeakBytes, p.wasmHeapBytes ?? 0)
    if (p.ok)
      lines.push(
        `${report.model} ${p.name} on ${report.backend}: ran in ${p.seconds.toFixed(1)} s, peak ${gb(used)} of backend memory, peak RSS ${gb(p.peakRssBytes)}`
      )
    else
      lines.push(
        `${report.model} ${p.name} on ${report.backend}: FAILED (${p.error})${p.estimatedBytes ? `; it needs ~${gb(p.estimatedBytes)}` : ''}${report.backend === 'wasm' ? `; the wasm heap is ${gb(WASM_HEAP_LIMIT_BYTES)}: ${native}` : ''}`
      )
  }
  if (cfg && report.kind === 'pixart') {
    for (const size of [...new Set([report.options.size, 512, 1024])].sort((a, b) => a - b)) {
      if (!Number.isInteger(modelSide(cfg, size) / cfg.patch_size)) continue
      const ckpt = checkpoint || pixartLoraStepBytes(cfg, report.parameters, size, false).activations > GiB
      const need = pixartLoraStepBytes(cfg, report.parameters, size, ckpt).total
      const where =
        need < WASM_HEAP_LIMIT_BYTES * 0.9
          ? 'fits the 4 GB wasm heap'
          : need < ram * 0.8
            ? `the wasm heap is ${gb(WASM_HEAP_LIMIT_BYTES)}: ${native}`
            : `more than this machine's ${gb(ram)} RAM: use a GPU with at least ${gb(need * 1.2)} (tfjs-node-gpu)`
      lines.push(
        `${report.model} LoRA at ${size} px needs ~${gb(need)} (weights ${gb(4 * report.parameters)} as float32${ckpt ? ', blocks checkpointed' : ''}); ${where}`
      )
    }
  }
  return lines
}

export async function checkWeights(
  folder: string,
  options: Partial<CheckOptions> = {},
  onPhase?: (p: PhaseReport) => void
): Promise<CheckReport> {
  const o = {...defaultCheckOptions, ...options}
  for (const [key, v] of Object.entries({
    size: o.size,
    captions: o.captions,
    seqLen: o.seqLen,
    condTokens: o.condTokens,
    loraRank: o.loraRank
  })) {
    if (!Number.isInteger(v) || v < 1)
      throw new UserError(`--${key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())} ${v}: must be a positive integer`)
  }
  const backend = activeBackend()
  if (!backend) throw new Error('checkWeights: initBackend() first')
  const inv = await inventoryOf(folder)
  const report: CheckReport = {
    folder,
    model:
      inv.kind === 'pixart'
        ? 'PixArt'
        : inv.kind === 'vae'
          ? 'AutoencoderKL'
          : inv.kind === 'bert'
            ? 'BERT'
            : 'DistilBERT',
    kind: inv.kind,
    backend,
    layout: inv.layout,
    files: inv.files,
    fileBytes: inv.fileBytes,
    tensors: inv.tensors,
    parameters: inv.parameters,
    dtype: mainDtype(inv),
    dtypes: inv.dtypes,
    options: o,
    phases: [],
    fits: []
  }
  const rec = installKernelRecorder()
  const phases = new PhaseLog(onPhase)
  let cfg: PixArtConfig | null = null
  let checkpoint = false
  try {
    if (inv.kind === 'pixart') {
      ;({cfg, checkpoint} = await checkPixArt(inv, o, rec, phases))
      if (cfg) report.model = pixartName(cfg)
    } else if (inv.kind === 'vae') await checkVae(inv, o, rec, phases)
    else await checkText(inv, o, rec, phases)
  } finally {
    rec.uninstall()
  }
  report.phases = phases.list
  report.fits = fitsLines(report, cfg, checkpoint)
  return report
}

/** Did this phase fail, or not fit? (`check-weights` exits 1 then.) */
export const phaseFailed = (p: PhaseReport): boolean => !p.ok && (!p.skipped || p.pastMemoryLimit === true)

export function formatPhase(p: PhaseReport): string {
  const heap = p.wasmHeapBytes !== null ? `, wasm heap ${gb(p.wasmHeapBytes)}` : ''
  const status = p.skipped ? `skipped (${p.error})` : p.ok ? 'ok' : `FAILED: ${p.error}`
  return `${p.name}: ${status}; ${p.seconds.toFixed(1)} s, tracked peak ${gb(p.trackedPeakBytes)}${heap}, peak RSS ${gb(p.peakRssBytes)}`
}

/** The human-readable report. */
export function formatCheckReport(r: CheckReport): string {
  const dtypes = Object.entries(r.dtypes)
    .map(([d, n]) => `${d} ${n}`)
    .join(', ')
  const lines = [
    `${r.folder}: ${r.model} (${r.kind}), ${r.parameters.toLocaleString('en-US')} parameters in ${r.tensors} tensors (${dtypes})`,
    `  files (${r.layout}): ${r.files.map(f => `${f.name} ${gb(f.bytes)}`).join(', ')}; ${gb(r.fileBytes)} on disk, ${gb(4 * r.parameters)} as float32`,
    `  backend: ${r.backend}`
  ]
  for (const p of r.phases) lines.push(`  ${formatPhase(p)}`)
  lines.push('what fits:', ...r.fits.map(l => `  ${l}`))
  return lines.join('\n')
}
