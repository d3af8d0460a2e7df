// `npm run bench`: medgen side by side with the PyTorch reference (bench/torch_pixart.py, when
// Debian's python3-torch is importable by /usr/bin/python3), in one invocation: the PixArt
// training step and batch-2 inference on bench/bench-tiny.json, bench-demo.json (the demo's DiT,
// pixart-demo-latent at configs/demo.yaml's batch 8) and bench-small.json; the SDNet step
// (sdnet-small, batch 8, 64 px; medgen only) and Inception features at 299 px. Prints the
// ratios, the backend's 512^3 matmul GFLOP/s, the load average and peak RSS, and writes a dated
// section at the top of docs/BENCHMARKS.md's history (after <!-- bench:history -->; at the end
// if the marker is gone), so the history stays newest first.
// Flags: --iters N --warmup N --only tiny|demo|small|sdnet|inception (comma list) --no-torch
//   --no-write --torch-passive (OMP_WAIT_POLICY=PASSIVE for torch: on a loaded machine its
//   spinning OpenMP threads otherwise make it 10-20x slower, see docs/BENCHMARKS.md)
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, totalmem} from 'node:os'
import {join} from 'node:path'
import {activeWasmThreads, initBackend} from '../src/backend/index.js'
import {benchDir, inceptionBench, matmulGflops, median, pixartBench, sdnetBench, time} from './lib/workloads.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}
const has = (name: string) => argv.includes(`--${name}`)
const repo = new URL('../', import.meta.url).pathname
const rssMb = () => process.resourceUsage().maxRSS / 1024
const load = () =>
  loadavg()
    .map(x => x.toFixed(2))
    .join(' ')

interface TorchResult {
  train_step_ms_median: number
  infer_b2_ms_median: number
  peak_rss_mb: number
  torch_threads: number
  blas: {libraries: string[]; openblas_core?: string; openblas_threads?: number}
}

function torchReference(file: string, iters: number, warmup: number): TorchResult | null {
  if (has('no-torch')) return null
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'
  if (spawnSync(python, ['-c', 'import torch'], {stdio: 'ignore'}).status !== 0) return null
  // OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set on some of these machines and slow OpenBLAS
  // several-fold; they are unset together, for this subprocess only
  const env = {...process.env}
  delete env.OPENBLAS_CORETYPE
  delete env.OPENBLAS_L2_SIZE
  if (has('torch-passive')) env.OMP_WAIT_POLICY = 'PASSIVE'
  const r = spawnSync(
    python,
    [
      join(benchDir, 'torch_pixart.py'),
      '--config',
      join(benchDir, file),
      '--threads',
      String(cpus().length),
      '--iters',
      String(iters),
      '--warmup',
      String(warmup)
    ],
    {encoding: 'utf8', maxBuffer: 1 << 24, env}
  )
  if (r.status !== 0) {
    console.error(`torch_pixart.py failed on ${file}: ${r.stderr.trim().split('\n').pop()}`)
    return null
  }
  return JSON.parse(r.stdout.slice(r.stdout.indexOf('{')))
}

const f1 = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(1))
const f2 = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(2))

async function main(): Promise<void> {
  const backend = await initBackend((process.env.MEDGEN_BACKEND as never) ?? 'auto')
  const iters = Number(opt('iters', '5'))
  const warmup = Number(opt('warmup', '2'))
  const only = opt('only', '').split(',').filter(Boolean)
  const want = (name: string) => only.length === 0 || only.includes(name)
  const gflops = matmulGflops()
  const loadBefore = load()
  console.log(
    `backend ${backend}${activeWasmThreads() ? ` (${activeWasmThreads()} threads)` : ''}; matmul 512^3: ${gflops.toFixed(2)} GFLOP/s; load average ${loadBefore}`
  )
  const rows: string[] = []
  let blas = ''
  for (const [name, file] of [
    ['tiny', 'bench-tiny.json'],
    ['demo', 'bench-demo.json'],
    ['small', 'bench-small.json']
  ]) {
    if (!want(name)) continue
    const b = pixartBench(file)
    const train = median(await time(b.train, iters, warmup))
    const infer = median(await time(b.infer, Math.max(iters, 10), warmup))
    const stepGflops = b.train.flops! / (train / 1000) / 1e9
    b.dispose()
    const rss = rssMb()
    const ref = torchReference(file, iters, warmup)
    if (ref)
      blas = `torch ${ref.torch_threads} threads; BLAS ${ref.blas.libraries.find(l => /openblas|libblas/.test(l)) ?? ref.blas.libraries[0] ?? 'none found'}${ref.blas.openblas_core ? ` (OpenBLAS kernel ${ref.blas.openblas_core}, ${ref.blas.openblas_threads} threads)` : ''}${has('torch-passive') ? ', OMP_WAIT_POLICY=PASSIVE' : ''}`
    const rt = ref ? train / ref.train_step_ms_median : null
    const ri = ref ? infer / ref.infer_b2_ms_median : null
    console.log(
      JSON.stringify({
        config: file,
        params: b.params,
        batch: b.batch,
        checkpointBlocks: b.checkpointBlocks,
        train_step_ms: train,
        infer_b2_ms: infer,
        step_gflops: stepGflops,
        torch: ref && {
          train_step_ms: ref.train_step_ms_median,
          infer_b2_ms: ref.infer_b2_ms_median,
          peak_rss_mb: ref.peak_rss_mb
        },
        ratio_train: rt,
        ratio_infer: ri,
        peak_rss_mb: rss
      })
    )
    rows.push(
      `| ${file} (${(b.params / 1e6).toFixed(2)}M params, batch ${b.batch}${b.checkpointBlocks ? ', blocks checkpointed' : ''}) | ${f1(train)} | ${f1(ref?.train_step_ms_median)} | ${f2(rt)} | ${f1(infer)} | ${f1(ref?.infer_b2_ms_median)} | ${f2(ri)} | ${stepGflops.toFixed(2)} | ${rss.toFixed(0)} / ${f1(ref?.peak_rss_mb)} |`
    )
  }
  let sdnetMs: number | null = null
  if (want('sdnet')) {
    const w = sdnetBench(8)
    sdnetMs = median(await time(w, Math.max(2, Math.ceil(iters / 2)), 1))
    w.dispose()
    console.log(
      `sdnet-small training step, batch 8, 64 px: ${sdnetMs.toFixed(0)} ms; peak RSS ${rssMb().toFixed(0)} MB`
    )
  }
  let inception: number | null = null
  if (want('inception')) {
    const w = inceptionBench(8)
    const ms = median(await time(w, 2, 1))
    w.dispose()
    inception = w.batch / (ms / 1000)
    console.log(
      `inception-fid feature throughput: ${inception.toFixed(2)} images/s at 299 px; peak RSS ${rssMb().toFixed(0)} MB`
    )
  }
  const loadAfter = load()
  console.log(`peak RSS: ${rssMb().toFixed(0)} MB; load average after ${loadAfter}${blas ? `; ${blas}` : ''}`)
  if (has('no-write')) return
  const cpu = cpus()[0]?.model ?? 'unknown cpu'
  const section = `
## ${new Date().toISOString().slice(0, 16)}Z: npm run bench (${backend}${activeWasmThreads() ? `, ${activeWasmThreads()} threads` : ''})
Machine: ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load average ${loadBefore} before, ${loadAfter} after.
Iterations: ${iters} after ${warmup} warm-up (medians). Backend matmul 512x512x512: ${gflops.toFixed(2)} GFLOP/s.${blas ? ` PyTorch: ${blas}.` : ''}

| config | medgen train step ms | PyTorch train step ms | ratio | medgen infer (b=2) ms | PyTorch infer ms | ratio | medgen step GFLOP/s | peak RSS MB (medgen so far / torch) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

${sdnetMs !== null ? `SDNet training step (sdnet-small, batch 8, 64 px): ${sdnetMs.toFixed(0)} ms.\n` : ''}${inception !== null ? `Inception (FID variant) features: ${inception.toFixed(2)} images/s at 299 px.\n` : ''}Peak RSS of the bench process: ${rssMb().toFixed(0)} MB.
`
  const doc = join(repo, 'docs/BENCHMARKS.md')
  const text = readFileSync(doc, 'utf8')
  const marker = '<!-- bench:history -->'
  const at = text.indexOf(marker)
  writeFileSync(
    doc,
    at < 0 ? text + section : text.slice(0, at + marker.length) + '\n' + section + text.slice(at + marker.length)
  )
}

await main()
