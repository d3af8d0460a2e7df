// `npm run profile -- --model pixart-small|pixart-tiny|pixart-demo-latent|sdnet-small|vae-demo|inception`
// Times one training step (a forward for inception) kernel by kernel on the active backend
// (MEDGEN_BACKEND, default auto) and prints markdown tables: the top kernels by self time with
// their share of the step, calls, and for matmul/conv kernels the achieved GFLOP/s against the
// backend's measured 512^3 matmul peak; then the slowest matmul/conv shapes; then how much of the
// step ran outside any kernel (tape, engine bookkeeping, JS). Flags: --steps N (profiled steps,
// averaged; default 2) --warmup N (default 2) --top N (default 25) --checkpointing auto|on|off
import * as tf from '@tensorflow/tfjs'
import {cpus} from 'node:os'
import {activeWasmThreads, initBackend} from '../src/backend/index.js'
import {KernelProfiler} from './lib/kernel-profiler.js'
import {inceptionBench, matmulGflops, pixartBench, sdnetBench, vaeDemoBench, type Workload} from './lib/workloads.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}

const MODELS: Record<string, string> = {
  'pixart-small': 'bench-small.json',
  'pixart-tiny': 'bench-tiny.json',
  'pixart-demo-latent': 'bench-demo.json'
}

function workload(model: string): {w: Workload; dispose(): void} {
  if (MODELS[model]) {
    const b = pixartBench(MODELS[model], opt('checkpointing', 'auto') as 'auto')
    return {w: argv.includes('--infer') ? b.infer : b.train, dispose: () => b.dispose()}
  }
  if (model === 'sdnet-small') {
    const w = sdnetBench(8)
    return {w, dispose: () => w.dispose()}
  }
  if (model === 'vae-demo') {
    const w = vaeDemoBench(8)
    return {w, dispose: () => w.dispose()}
  }
  if (model === 'inception') {
    const w = inceptionBench(8)
    return {w, dispose: () => w.dispose()}
  }
  console.error(
    `--model ${model}: unknown; use one of ${[...Object.keys(MODELS), 'sdnet-small', 'vae-demo', 'inception'].join(', ')}`
  )
  process.exit(2)
}

const fmt = (x: number, d = 1) => x.toFixed(d)

async function main(): Promise<void> {
  const backend = await initBackend((process.env.MEDGEN_BACKEND as never) ?? 'auto')
  const model = opt('model', 'pixart-demo-latent')
  const steps = Number(opt('steps', '2'))
  const warmup = Number(opt('warmup', '2'))
  const top = Number(opt('top', '25'))
  const peak = matmulGflops()
  const {w, dispose} = workload(model)
  for (let i = 0; i < warmup; i++) await w.run()
  const profiler = new KernelProfiler(tf.getBackend())
  profiler.install()
  // one unprofiled step after installing, so first-call costs of the wrappers are not counted
  await w.run()
  profiler.enabled = true
  const t0 = performance.now()
  for (let i = 0; i < steps; i++) await w.run()
  const stepMs = (performance.now() - t0) / steps
  profiler.enabled = false
  profiler.uninstall()
  // the same step unwrapped, to show what the wrappers themselves cost
  const t1 = performance.now()
  for (let i = 0; i < steps; i++) await w.run()
  const plainMs = (performance.now() - t1) / steps
  dispose()

  const kernels = profiler.kernels().map(k => ({
    ...k,
    selfMs: k.selfMs / steps,
    inclusiveMs: k.inclusiveMs / steps,
    calls: k.calls / steps,
    flops: k.flops / steps
  }))
  const topLevel = kernels.filter(k => !k.key.includes('>'))
  const inKernels = topLevel.reduce((a, k) => a + k.inclusiveMs, 0)
  const flopKernels = kernels.filter(k => k.flops > 0)
  const gemmMs = flopKernels.reduce((a, k) => a + k.inclusiveMs, 0)
  const gemmFlops = flopKernels.reduce((a, k) => a + k.flops, 0)
  const totalCalls = kernels.reduce((a, k) => a + k.calls, 0)

  const lines: string[] = []
  lines.push(
    `### profile: ${model} on ${backend}${activeWasmThreads() ? `, ${activeWasmThreads()} thread(s)` : ''} (${new Date().toISOString().slice(0, 16)}Z)`
  )
  lines.push(
    `${w.describe}. ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}; load average ${(await import('node:os'))
      .loadavg()
      .map(x => x.toFixed(2))
      .join(' ')}.`
  )
  lines.push(
    `Step ${fmt(stepMs)} ms profiled (${fmt(plainMs)} ms without the timers), mean of ${steps} after ${warmup + 1} warm-up; ` +
      `${fmt(totalCalls, 0)} kernel calls per step. Backend matmul peak (512^3): ${fmt(peak)} GFLOP/s. Peak RSS ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MB.`
  )
  lines.push(
    `Matmul/conv kernels: ${fmt(gemmMs)} ms (${fmt((100 * gemmMs) / stepMs)}% of the step) at ${fmt(gemmFlops / gemmMs / 1e6)} GFLOP/s ` +
      `(${fmt((100 * gemmFlops) / gemmMs / 1e6 / peak)}% of peak); all other kernels ${fmt(inKernels - gemmMs)} ms; ` +
      `outside kernels (tape, engine, JS) ${fmt(stepMs - inKernels)} ms (${fmt((100 * (stepMs - inKernels)) / stepMs)}%).`
  )
  lines.push('')
  lines.push(
    '| kernel (Parent>Child = called inside Parent) | calls | self ms | share | incl. ms | GFLOP/s | % of peak |'
  )
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const k of [...kernels].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) {
    const g = k.flops > 0 ? k.flops / k.inclusiveMs / 1e6 : null
    lines.push(
      `| ${k.key} | ${fmt(k.calls, 0)} | ${fmt(k.selfMs)} | ${fmt((100 * k.selfMs) / stepMs)}% | ${fmt(k.inclusiveMs)} | ${g === null ? '' : fmt(g)} | ${g === null ? '' : fmt((100 * g) / peak, 0) + '%'} |`
    )
  }
  lines.push('')
  lines.push('| slowest matmul/conv shapes | calls | ms | GFLOP/s |')
  lines.push('| --- | ---: | ---: | ---: |')
  for (const s of profiler
    .shapeStats()
    .sort((a, b) => b.inclusiveMs - a.inclusiveMs)
    .slice(0, 12)) {
    lines.push(
      `| ${s.signature} | ${fmt(s.calls / steps, 0)} | ${fmt(s.inclusiveMs / steps)} | ${fmt(s.flops / s.inclusiveMs / 1e6)} |`
    )
  }
  console.log(lines.join('\n'))
}

await main()
