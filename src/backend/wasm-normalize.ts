// Group/layer normalisation as two kernels for the tfjs wasm backend (issue 20): y = (x - mean) /
// sqrt(var + eps) with statistics per (n, g) of x seen as [n, s, g, k] -- LayerNorm over the last
// axis is s = 1, g = 1; GroupNorm of NHWC activations is n = batch, s = H*W, g = groups, k = C/groups
// -- and its gradient dx = rstd * (dy - mean(dy) - y * mean(dy * y)) over the same elements.
// Composed from tfjs ops the forward is ~10 kernels and the backward ~20, several of them a Sum
// over non-innermost axes that the wasm backend transposes first: the demo VAE's GroupNorms took
// ~100 of its ~310 ms step (npm run profile -- --model vae-demo). Here each is one JS pass or
// three over the heap. Statistics are accumulated in float64 (two passes: mean, then the centred
// variance, as torch's GroupNorm/LayerNorm compute them), outputs rounded to float32.
import * as tf from '@tensorflow/tfjs'
import type {KernelFunc, TensorInfo} from '@tensorflow/tfjs'
import {heapOffset, type KernelHeap} from './wasm-heap.js'

export const NORMALIZE = 'MedgenNormalize'
export const NORMALIZE_GRAD = 'MedgenNormalizeGrad'

/** x viewed as [n, s, g, k]; statistics per (n, g) over s*k elements. */
export interface NormalizeAttrs {
  n: number
  s: number
  g: number
  k: number
  eps: number
}

function checkShape(x: TensorInfo, a: NormalizeAttrs): void {
  const size = x.shape.reduce((p, d) => p * d, 1)
  if (x.dtype !== 'float32' || size !== a.n * a.s * a.g * a.k)
    throw new Error(`${NORMALIZE}: ${x.dtype} [${x.shape}] is not a float32 [${a.n},${a.s},${a.g},${a.k}]`)
}

/** Outputs: y (x's shape) and rstd [n, g]. */
const normalize: KernelFunc = ({inputs, backend, attrs}) => {
  const heap = backend as unknown as KernelHeap
  const x = (inputs as {x: TensorInfo}).x
  const a = attrs as unknown as NormalizeAttrs
  checkShape(x, a)
  const y = heap.makeOutput(x.shape, 'float32')
  const rstd = heap.makeOutput([a.n, a.g], 'float32')
  // views after every allocation: the heap may grow (and move) when memory is allocated
  const mem = heap.wasm.HEAPF32
  const xo = heapOffset(heap, x)
  const yo = heapOffset(heap, y)
  const ro = heapOffset(heap, rstd)
  const {n, s, g, k, eps} = a
  const count = s * k
  const rowStride = g * k
  for (let ni = 0; ni < n; ni++) {
    for (let gi = 0; gi < g; gi++) {
      const base = ni * s * rowStride + gi * k
      let sum = 0
      for (let si = 0; si < s; si++) {
        const o = base + si * rowStride
        for (let ki = 0; ki < k; ki++) sum += mem[xo + o + ki]
      }
      const mean = sum / count
      let sq = 0
      for (let si = 0; si < s; si++) {
        const o = base + si * rowStride
        for (let ki = 0; ki < k; ki++) {
          const d = mem[xo + o + ki] - mean
          sq += d * d
        }
      }
      const r = 1 / Math.sqrt(sq / count + eps)
      mem[ro + ni * g + gi] = r
      for (let si = 0; si < s; si++) {
        const o = base + si * rowStride
        for (let ki = 0; ki < k; ki++) mem[yo + o + ki] = (mem[xo + o + ki] - mean) * r
      }
    }
  }
  return [y, rstd]
}

/** Inputs: dy, y (the forward's output) and rstd; output dx. */
const normalizeGrad: KernelFunc = ({inputs, backend, attrs}) => {
  const heap = backend as unknown as KernelHeap
  const {dy, y, rstd} = inputs as {dy: TensorInfo; y: TensorInfo; rstd: TensorInfo}
  const a = attrs as unknown as NormalizeAttrs
  checkShape(dy, a)
  checkShape(y, a)
  const dx = heap.makeOutput(dy.shape, 'float32')
  const mem = heap.wasm.HEAPF32
  const dyo = heapOffset(heap, dy)
  const yo = heapOffset(heap, y)
  const ro = heapOffset(heap, rstd)
  const dxo = heapOffset(heap, dx)
  const {n, s, g, k} = a
  const count = s * k
  const rowStride = g * k
  for (let ni = 0; ni < n; ni++) {
    for (let gi = 0; gi < g; gi++) {
      const base = ni * s * rowStride + gi * k
      let sumDy = 0
      let sumDyY = 0
      for (let si = 0; si < s; si++) {
        const o = base + si * rowStride
        for (let ki = 0; ki < k; ki++) {
          const d = mem[dyo + o + ki]
          sumDy += d
          sumDyY += d * mem[yo + o + ki]
        }
      }
      const meanDy = sumDy / count
      const meanDyY = sumDyY / count
      const r = mem[ro + ni * g + gi]
      for (let si = 0; si < s; si++) {
        const o = base + si * rowStride
        for (let ki = 0; ki < k; ki++) mem[dxo + o + ki] = r * (mem[dyo + o + ki] - meanDy - mem[yo + o + ki] * meanDyY)
      }
    }
  }
  return dx
}

export const NORMALIZE_KERNELS: Record<string, KernelFunc> = {[NORMALIZE]: normalize, [NORMALIZE_GRAD]: normalizeGrad}

/**
 * Whether the active backend has the fused kernels (wasm, once src/backend/index.ts set it up) and
 * MEDGEN_FUSED_KERNELS is not 0. With 0 every backend runs the composed tfjs ops, as tfjs-node
 * does: the kernel-coverage test records what a tfjs-node user dispatches that way. (An
 * environment variable, not a module flag: under tsx a module can be loaded twice.)
 */
export function fusedNormalizeAvailable(): boolean {
  return process.env.MEDGEN_FUSED_KERNELS !== '0' && tf.getKernel(NORMALIZE, tf.getBackend()) !== undefined
}
