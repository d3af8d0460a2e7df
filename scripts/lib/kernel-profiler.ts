// Kernel-by-kernel timing for `npm run profile`. Every kernel registered for the active backend is
// re-registered wrapped in a timer, so each call -- through the engine (forward ops and the
// gradient functions of the tape) or directly from another kernel (our wasm kernels call
// Transpose, Reshape, Conv2D, ... at kernel level, src/backend/wasm-scratch.ts) -- is seen. A
// kernel called from inside another is keyed "Parent>Child" and its time is taken out of the
// parent's self time, so a BatchMatMul's own time and the transposes around it read apart.
// Kernels run synchronously on wasm, cpu and tfjs-node, so wall time around the call is the
// kernel's time. FLOPs are credited to the outermost matmul/conv kernel of a call chain only.
import * as tf from '@tensorflow/tfjs'
import type {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs'

const {backend_util, util} = tf

export interface KernelStat {
  key: string
  calls: number
  /** time inside the kernel minus the kernels it called, ms */
  selfMs: number
  /** time inside the kernel, ms (nested calls of the same kernel counted once) */
  inclusiveMs: number
  flops: number
}

export interface ShapeStat {
  signature: string
  calls: number
  inclusiveMs: number
  flops: number
}

type Attrs = Record<string, unknown>
type Ins = Record<string, TensorInfo>

function batchOf(shape: number[]): number {
  return util.sizeFromShape(shape.slice(0, -2))
}

/** FLOPs and a shape signature for the matmul/conv kernels; null for everything else. */
export function kernelFlops(name: string, inputs: Ins, attrs: Attrs): {flops: number; signature: string} | null {
  if (name === 'BatchMatMul' || name === '_FusedMatMul') {
    const {a, b} = inputs
    const ta = Boolean(attrs.transposeA)
    const tb = Boolean(attrs.transposeB)
    const m = a.shape[a.shape.length - (ta ? 1 : 2)]
    const k = a.shape[a.shape.length - (ta ? 2 : 1)]
    const n = b.shape[b.shape.length - (tb ? 2 : 1)]
    const batch = Math.max(batchOf(a.shape), batchOf(b.shape))
    return {
      flops: 2 * batch * m * k * n,
      signature: `${name} [${a.shape}]${ta ? 'T' : ''} x [${b.shape}]${tb ? 'T' : ''}`
    }
  }
  const conv = (x: number[], f: number[], depthwise: boolean) => {
    const info = backend_util.computeConv2DInfo(
      x as never,
      f as never,
      attrs.strides as never,
      (attrs.dilations ?? 1) as never,
      attrs.pad as never,
      attrs.dimRoundingMode as never,
      depthwise
    )
    const taps = info.filterHeight * info.filterWidth * (depthwise ? 1 : info.inChannels)
    return 2 * info.batchSize * info.outHeight * info.outWidth * info.outChannels * taps
  }
  const sig = (parts: number[][]) => `${name} ${parts.map(p => `[${p}]`).join(' ')} s${String(attrs.strides)}`
  switch (name) {
    case 'Conv2D':
    case 'FusedConv2D':
      return {
        flops: conv(inputs.x.shape, inputs.filter.shape, false),
        signature: sig([inputs.x.shape, inputs.filter.shape])
      }
    case 'DepthwiseConv2dNative':
    case 'FusedDepthwiseConv2D':
      return {
        flops: conv(inputs.x.shape, inputs.filter.shape, true),
        signature: sig([inputs.x.shape, inputs.filter.shape])
      }
    case 'Conv2DBackpropInput':
      return {
        flops: conv(attrs.inputShape as number[], inputs.filter.shape, false),
        signature: sig([attrs.inputShape as number[], inputs.filter.shape])
      }
    case 'Conv2DBackpropFilter':
      return {
        flops: conv(inputs.x.shape, attrs.filterShape as number[], false),
        signature: sig([inputs.x.shape, attrs.filterShape as number[]])
      }
    case 'DepthwiseConv2dNativeBackpropInput':
      return {
        flops: conv(attrs.inputShape as number[], inputs.filter.shape, true),
        signature: sig([attrs.inputShape as number[], inputs.filter.shape])
      }
    case 'DepthwiseConv2dNativeBackpropFilter':
      return {
        flops: conv(inputs.x.shape, attrs.filterShape as number[], true),
        signature: sig([inputs.x.shape, attrs.filterShape as number[]])
      }
    default:
      return null
  }
}

export class KernelProfiler {
  private readonly originals: KernelConfig[] = []
  private readonly stats = new Map<string, KernelStat>()
  private readonly shapes = new Map<string, ShapeStat>()
  /** active calls: key, start, time spent in children, whether a flop kernel is open above */
  private readonly stack: Array<{key: string; name: string; start: number; childMs: number}> = []
  private flopDepth = 0
  enabled = false

  constructor(readonly backendName: string) {}

  install(): void {
    for (const config of tf.getKernelsForBackend(this.backendName)) {
      this.originals.push(config)
      tf.unregisterKernel(config.kernelName, this.backendName)
      tf.registerKernel({...config, kernelFunc: this.wrap(config.kernelName, config.kernelFunc)})
    }
  }

  uninstall(): void {
    for (const config of this.originals) {
      tf.unregisterKernel(config.kernelName, this.backendName)
      tf.registerKernel(config)
    }
    this.originals.length = 0
  }

  reset(): void {
    this.stats.clear()
    this.shapes.clear()
  }

  private wrap(name: string, fn: KernelFunc): KernelFunc {
    return args => {
      if (!this.enabled) return fn(args)
      const parent = this.stack[this.stack.length - 1]
      const key = parent ? `${parent.name}>${name}` : name
      const counted = this.flopDepth === 0 ? kernelFlops(name, args.inputs as Ins, args.attrs as Attrs) : null
      if (counted) this.flopDepth++
      const frame = {key, name, start: performance.now(), childMs: 0}
      this.stack.push(frame)
      try {
        return fn(args)
      } finally {
        this.stack.pop()
        if (counted) this.flopDepth--
        const ms = performance.now() - frame.start
        if (parent) parent.childMs += ms
        const s = this.stats.get(key) ?? {key, calls: 0, selfMs: 0, inclusiveMs: 0, flops: 0}
        s.calls++
        s.selfMs += ms - frame.childMs
        s.inclusiveMs += ms
        if (counted) {
          s.flops += counted.flops
          const sh = this.shapes.get(counted.signature) ?? {
            signature: counted.signature,
            calls: 0,
            inclusiveMs: 0,
            flops: 0
          }
          sh.calls++
          sh.inclusiveMs += ms
          sh.flops += counted.flops
          this.shapes.set(counted.signature, sh)
        }
        this.stats.set(key, s)
      }
    }
  }

  kernels(): KernelStat[] {
    return [...this.stats.values()]
  }
  shapeStats(): ShapeStat[] {
    return [...this.shapes.values()]
  }
}
