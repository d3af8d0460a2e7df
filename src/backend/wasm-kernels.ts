// Gradient kernels for the tfjs wasm backend (docs/DESIGN.md "Tensors and backends"). Measured in
// @tensorflow/tfjs-backend-wasm 4.22 with tf.getKernel(name, 'wasm') and against the cpu backend
// (test/backend/wasm-grad.test.ts):
//  - missing, added here: Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter/Input,
//    UnsortedSegmentSum (the gradient of tf.gather, i.e. of every embedding lookup), Einsum;
//  - present but wrong, replaced: MaxPoolGrad (see ./js-kernels.ts);
//  - present but slow, replaced: Concat and SplitV (./wasm-copy.ts), Transpose of many rows
//    (./wasm-transpose.ts), Sum over leading or middle axes (./wasm-sum.ts), Conv2DBackpropInput (a plain loop, ~10x slower than the
//    XNNPACK convolution used below); BatchMatMul when transposed or batched (./wasm-matmul.ts);
//  - present and right: AvgPoolGrad, ResizeNearestNeighborGrad, ResizeBilinearGrad, Erf,
//    batch-norm, softmax, and the elementwise gradients.
// The conv gradients are rewritten as forward convolutions so XNNPACK does the work; the others
// are composed from wasm kernels called directly at kernel level (nothing goes through the
// engine, so nothing lands on a gradient tape), and every intermediate is released with
// backend.disposeData (the test checks tf.memory() and the backend's buffer count stay flat).
import * as tf from '@tensorflow/tfjs'
import type {TensorInfo, KernelFunc, NamedAttrMap, NamedTensorInfoMap} from '@tensorflow/tfjs'
import {maxPoolGrad, resizeNearestNeighborGrad, unsortedSegmentSum} from './js-kernels.js'
import {Scratch} from './wasm-scratch.js'
import {batchMatMulKernel} from './wasm-matmul.js'
import {concatKernel, splitVKernel} from './wasm-copy.js'
import {transposeKernel} from './wasm-transpose.js'
import {sumKernel} from './wasm-sum.js'
import {NORMALIZE_KERNELS} from './wasm-normalize.js'

const {backend_util, util} = tf

/** x[:, top + i*sh, left + j*sw, :] for i < outH, j < outW: the input seen by one filter tap. */
function tapSlice(
  s: Scratch,
  x: TensorInfo,
  top: number,
  left: number,
  outH: number,
  outW: number,
  sh: number,
  sw: number
): TensorInfo {
  const [b, , , c] = x.shape
  return s.run(
    'StridedSlice',
    {x},
    {
      begin: [0, top, left, 0],
      end: [b, top + (outH - 1) * sh + 1, left + (outW - 1) * sw + 1, c],
      strides: [1, sh, sw, 1],
      beginMask: 0,
      endMask: 0,
      ellipsisMask: 0,
      newAxisMask: 0,
      shrinkAxisMask: 0
    }
  )
}

function padSpatial(s: Scratch, x: TensorInfo, top: number, bottom: number, left: number, right: number): TensorInfo {
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return x
  return s.run(
    'PadV2',
    {x},
    {
      paddings: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0]
      ],
      constantValue: 0
    }
  )
}

/**
 * dy of a strided convolution spread to stride spacing with zeros (a transposed convolution's
 * input), plus the bottom/right padding that makes the stride-1 correlation cover the input;
 * rows/columns past the input (odd sizes with padding) are cropped instead.
 */
function spreadForTransposedConv(
  s: Scratch,
  dy: TensorInfo,
  info: ReturnType<typeof backend_util.computeConv2DInfo>,
  top: number,
  left: number
): {spread: TensorInfo; bottom: number; right: number} {
  const {
    batchSize: b,
    inHeight: h,
    inWidth: w,
    outHeight: oh,
    outWidth: ow,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: sh,
    strideWidth: sw
  } = info
  const co = dy.shape[3]
  let spread = dy
  if (sh > 1 || sw > 1) {
    const padded = s.run(
      'PadV2',
      {x: s.reshape(dy, [b, oh, 1, ow, 1, co])},
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0]
        ],
        constantValue: 0
      }
    )
    spread = s.reshape(padded, [b, oh * sh, ow * sw, co])
  }
  let bottom = h - spread.shape[1] - top + fh - 1
  let right = w - spread.shape[2] - left + fw - 1
  if (bottom < 0 || right < 0) {
    spread = s.run(
      'Slice',
      {x: spread},
      {begin: [0, 0, 0, 0], size: [b, spread.shape[1] + Math.min(0, bottom), spread.shape[2] + Math.min(0, right), co]}
    )
    bottom = Math.max(0, bottom)
    right = Math.max(0, right)
  }
  return {spread, bottom, right}
}

function requireChannelsLast(dataFormat: unknown, kernel: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports NHWC only, got ${String(dataFormat)}`)
  }
}

/**
 * dW[kh,kw,ci,co] = sum over (b,i,j) of x[b, i*s + kh - padTop, j*s + kw - padLeft, ci] * dy[b,i,j,co].
 * That is itself a convolution once batch and channels swap places: input x as [ci, H, W, b],
 * filter dy as [oh, ow, b, co], the conv stride becoming a filter dilation. XNNPACK runs it about
 * 10x faster than one strided slice + matmul per filter tap (wasm's Slice and transposed
 * BatchMatMul are slow: measured 1.4 s vs 0.12 s for x [8,64,64,32], 3x3x32x32).
 */
const conv2DBackpropFilter: KernelFunc = ({inputs, backend, attrs}) => {
  const {x, dy} = inputs as {x: TensorInfo; dy: TensorInfo}
  const {strides, pad, dataFormat, dimRoundingMode, filterShape} = attrs as never as {
    strides: number | [number, number]
    pad: never
    dataFormat: string
    dimRoundingMode: never
    filterShape: [number, number, number, number]
  }
  requireChannelsLast(dataFormat, 'Conv2DBackpropFilter')
  const info = backend_util.computeConv2DInfo(
    x.shape as never,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast'
  )
  const s = new Scratch(backend as never)
  const {
    inHeight: h,
    inWidth: w,
    outHeight: oh,
    outWidth: ow,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: sh,
    strideWidth: sw
  } = info
  const {top, left} = info.padInfo
  // rows/columns past what the last output position reads are cropped (valid padding leftovers)
  let bottom = fh + (oh - 1) * sh - h - top
  let right = fw + (ow - 1) * sw - w - left
  let xs = x
  if (bottom < 0 || right < 0) {
    xs = s.run(
      'Slice',
      {x},
      {begin: [0, 0, 0, 0], size: [x.shape[0], h + Math.min(0, bottom), w + Math.min(0, right), x.shape[3]]}
    )
    bottom = Math.max(0, bottom)
    right = Math.max(0, right)
  }
  const xt = s.run('Transpose', {x: xs}, {perm: [3, 1, 2, 0]})
  const dyt = s.run('Transpose', {x: dy}, {perm: [1, 2, 0, 3]})
  const grad = s.run(
    'Conv2D',
    {x: xt, filter: dyt},
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0]
      ],
      dilations: [sh, sw],
      dataFormat: 'NHWC'
    }
  )
  return s.finish(s.run('Transpose', {x: grad}, {perm: [1, 2, 0, 3]}))
}

/**
 * dx of a conv2d: the correlation of dy (spread to stride spacing with zeros) with the filter
 * rotated 180 degrees and its in/out channels swapped. Replaces wasm's own kernel, which is
 * correct but a plain loop about 10x slower than this XNNPACK convolution (0.09 s vs 0.92 s for
 * dy [8,64,64,32], 3x3x32x32).
 */
const conv2DBackpropInput: KernelFunc = ({inputs, backend, attrs}) => {
  const {dy, filter} = inputs as {dy: TensorInfo; filter: TensorInfo}
  const {strides, pad, dataFormat, dimRoundingMode, inputShape} = attrs as never as {
    strides: number | [number, number]
    pad: never
    dataFormat: string
    dimRoundingMode: never
    inputShape: [number, number, number, number]
  }
  requireChannelsLast(dataFormat, 'Conv2DBackpropInput')
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as never,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast'
  )
  const s = new Scratch(backend as never)
  const {filterHeight: fh, filterWidth: fw} = info
  const top = fh - 1 - info.padInfo.top
  const left = fw - 1 - info.padInfo.left
  if (top < 0 || left < 0) {
    // padding wider than the filter: rare, left to wasm's own kernel
    const native = replacedKernels.get('wasm/Conv2DBackpropInput')
    if (!native) throw new Error('Conv2DBackpropInput: padding wider than the filter is not supported')
    return native({inputs, backend, attrs})
  }
  const flipped = s.run('Transpose', {x: s.run('Reverse', {x: filter}, {dims: [0, 1]})}, {perm: [0, 1, 3, 2]})
  const {spread, bottom, right} = spreadForTransposedConv(s, dy, info, top, left)
  return s.finish(
    s.run(
      'Conv2D',
      {x: spread, filter: flipped},
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0]
        ],
        dilations: [1, 1],
        dataFormat: 'NHWC'
      }
    )
  )
}

/** Same as above for depthwise filters [fh,fw,ci,m]: dy channel ci*m + j pairs with input channel ci. */
const depthwiseBackpropFilter: KernelFunc = ({inputs, backend, attrs}) => {
  const {x, dy} = inputs as {x: TensorInfo; dy: TensorInfo}
  const {strides, dilations, pad, dimRoundingMode, filterShape} = attrs as never as {
    strides: number | [number, number]
    dilations: number | [number, number]
    pad: never
    dimRoundingMode: never
    filterShape: [number, number, number, number]
  }
  const info = backend_util.computeConv2DInfo(
    x.shape as never,
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true
  )
  return depthwiseFilterGradient(new Scratch(backend as never), x, dy, info)
}

/** One strided slice + batched matmul per filter tap (depthwise convs are rare in medgen's models). */
function depthwiseFilterGradient(
  s: Scratch,
  x: TensorInfo,
  dy: TensorInfo,
  info: ReturnType<typeof backend_util.computeConv2DInfo>
): TensorInfo {
  const {
    batchSize: b,
    outHeight: oh,
    outWidth: ow,
    inChannels: ci,
    outChannels: co,
    filterHeight: fh,
    filterWidth: fw
  } = info
  const n = b * oh * ow
  const m = co / ci
  const padded = padSpatial(s, x, info.padInfo.top, info.padInfo.bottom, info.padInfo.left, info.padInfo.right)
  // batch the matmul over input channels: [ci, 1, n] x [ci, n, m] -> [ci, 1, m]
  const dyMat = s.run('Transpose', {x: s.reshape(dy, [n, ci, m])}, {perm: [1, 0, 2]})
  const taps: TensorInfo[] = []
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      const patch = tapSlice(
        s,
        padded,
        kh * info.dilationHeight,
        kw * info.dilationWidth,
        oh,
        ow,
        info.strideHeight,
        info.strideWidth
      )
      const patchT = s.run('Transpose', {x: s.reshape(patch, [n, ci])}, {perm: [1, 0]})
      const tap = s.run(
        'BatchMatMul',
        {a: s.reshape(patchT, [ci, 1, n]), b: dyMat},
        {transposeA: false, transposeB: false}
      )
      taps.push(s.reshape(tap, [1, ci * m]))
    }
  }
  const stacked = taps.length === 1 ? taps[0] : s.run('Concat', taps, {axis: 0})
  return s.finish(s.reshape(stacked, [fh, fw, ci, m]))
}

/**
 * dx of a depthwise conv, as for conv2d: dy spread to stride spacing, correlated per channel with
 * the filter rotated 180 degrees (a depthwise conv over the ci*m channels of dy), then the m
 * channels that came from the same input channel are summed.
 */
const depthwiseBackpropInput: KernelFunc = ({inputs, backend, attrs}) => {
  const {dy, filter} = inputs as {dy: TensorInfo; filter: TensorInfo}
  const {strides, dilations, pad, dimRoundingMode, inputShape} = attrs as never as {
    strides: number | [number, number]
    dilations: number | [number, number]
    pad: never
    dimRoundingMode: never
    inputShape: [number, number, number, number]
  }
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as never,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true
  )
  const {batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outChannels: co} = info
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1)
    throw new Error('DepthwiseConv2dNativeBackpropInput on wasm: dilation must be 1')
  const fh = info.filterHeight
  const fw = info.filterWidth
  const top = fh - 1 - info.padInfo.top
  const left = fw - 1 - info.padInfo.left
  if (top < 0 || left < 0)
    throw new Error('DepthwiseConv2dNativeBackpropInput on wasm: padding wider than the filter is not supported')
  const s = new Scratch(backend as never)
  const flipped = s.reshape(s.run('Reverse', {x: filter}, {dims: [0, 1]}), [fh, fw, co, 1])
  const {spread, bottom, right} = spreadForTransposedConv(s, dy, info, top, left)
  const perChannel = s.run(
    'DepthwiseConv2dNative',
    {x: spread, filter: flipped},
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0]
      ],
      dilations: [1, 1],
      dataFormat: 'NHWC'
    }
  )
  if (co === ci) return s.finish(perChannel)
  return s.finish(s.run('Sum', {x: s.reshape(perChannel, [b, h, w, ci, co / ci])}, {axis: [4], keepDims: false}))
}

/** Einsum composed from Transpose, Reshape, Multiply and Sum, following tfjs-backend-cpu's kernel. */
const einsum: KernelFunc = ({inputs, backend, attrs}) => {
  const tensors = inputs as never as TensorInfo[]
  const {equation} = attrs as never as {equation: string}
  const s = new Scratch(backend as never)
  const {allDims, summedDims, idDims} = backend_util.decodeEinsumEquation(equation, tensors.length)
  backend_util.checkEinsumDimSizes(allDims.length, idDims, tensors as never)
  const {path, steps} = backend_util.getEinsumComputePath(summedDims, idDims)
  let out: TensorInfo | null = null
  let remaining = allDims.length
  for (let i = 0; i < steps.length; i++) {
    for (const term of steps[i]) {
      const {permutationIndices: perm, expandDims} = backend_util.getEinsumPermutation(remaining, idDims[term])
      let x = backend_util.isIdentityPermutation(perm) ? tensors[term] : s.run('Transpose', {x: tensors[term]}, {perm})
      const target = x.shape.slice()
      for (const d of expandDims) target.splice(d, 0, 1)
      if (!util.arraysEqual(x.shape, target)) x = s.reshape(x, target)
      out = out === null ? x : s.run('Multiply', {a: x, b: out})
    }
    if (i < steps.length - 1) {
      if (path[i] >= 0) out = s.run('Sum', {x: out!}, {axis: path[i] - (allDims.length - remaining), keepDims: false})
      remaining--
    }
  }
  // An input handed back unchanged needs its own reference, as the Identity kernel gives it.
  if (tensors.includes(out!)) out = s.run('Identity', {x: out!})
  return s.finish(out!)
}

/**
 * wasm's Identity copies the buffer; the cpu backend shares it. The engine runs Identity for
 * every clone, including each tensor the gradient tape saves, so on wasm a training forward held
 * two or three copies of every activation (sdnet-224: 1.28 GB per U-Net pass at batch 1; the
 * step did not fit the 4 GB heap). Sharing is safe: kernels never write their inputs, and
 * wasm's Reshape already shares the same way (refcounted disposeData).
 */
function identityShared(args: {inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap}): TensorInfo {
  const x = args.inputs.x as TensorInfo
  if (x.dtype === 'string') return replacedKernels.get('wasm/Identity')!(args as never) as TensorInfo
  ;(args.backend as {incRef(dataId: unknown): void}).incRef(x.dataId)
  return {dataId: x.dataId, shape: x.shape, dtype: x.dtype}
}

/** Missing on wasm: added. */
const MISSING_ON_WASM: Record<string, KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
  UnsortedSegmentSum: unsortedSegmentSum,
  Einsum: einsum
}
/** medgen's own kernels, no tfjs counterpart: src/models/normalize.ts uses them only where registered. */
const OWN_ON_WASM: Record<string, KernelFunc> = NORMALIZE_KERNELS
/** Present but wrong (MaxPoolGrad, see ./js-kernels.ts), about 10x slower than needed, or copying needlessly: replaced. */
const REPLACED_ON_WASM: Record<string, KernelFunc> = {
  MaxPoolGrad: maxPoolGrad,
  Conv2DBackpropInput: conv2DBackpropInput,
  Identity: identityShared as KernelFunc,
  BatchMatMul: batchMatMulKernel(() => replacedKernels.get('wasm/BatchMatMul')!),
  Concat: concatKernel(() => replacedKernels.get('wasm/Concat')!),
  SplitV: splitVKernel(() => replacedKernels.get('wasm/SplitV')!),
  Transpose: transposeKernel(() => replacedKernels.get('wasm/Transpose')!),
  Sum: sumKernel(() => replacedKernels.get('wasm/Sum')!)
}
const WRONG_ON_CPU: Record<string, KernelFunc> = {ResizeNearestNeighborGrad: resizeNearestNeighborGrad}

const ours = new Set<KernelFunc>([
  ...Object.values(MISSING_ON_WASM),
  ...Object.values(REPLACED_ON_WASM),
  ...Object.values(OWN_ON_WASM),
  ...Object.values(WRONG_ON_CPU)
])

/** The kernels we replaced, by backend/name, for fallbacks. */
const replacedKernels = new Map<string, KernelFunc>()

function install(backendName: string, kernels: Record<string, KernelFunc>, replace: boolean): string[] {
  const added: string[] = []
  for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
    const existing = tf.getKernel(kernelName, backendName)
    if (existing && (ours.has(existing.kernelFunc) || !replace)) continue
    if (existing) {
      replacedKernels.set(`${backendName}/${kernelName}`, existing.kernelFunc)
      tf.unregisterKernel(kernelName, backendName)
    }
    // keep the replaced kernel's setupFunc: the wasm backend runs it at start-up, and the original
    // kernelFunc (our fallback) needs it
    tf.registerKernel({kernelName, backendName, kernelFunc, setupFunc: existing?.setupFunc})
    added.push(kernelName)
  }
  return added
}

/** Registers the missing and corrected kernels for 'wasm'; idempotent. Returns the names installed. */
export function registerWasmGradientKernels(): string[] {
  return [
    ...install('wasm', MISSING_ON_WASM, false),
    ...install('wasm', REPLACED_ON_WASM, true),
    ...install('wasm', OWN_ON_WASM, false)
  ]
}

/** Replaces the cpu backend's ResizeNearestNeighborGrad, wrong for batches > 1 in tfjs 4.22; idempotent. */
export function registerCpuKernelFixes(): string[] {
  return install('cpu', WRONG_ON_CPU, true)
}

/**
 * Names of every kernel medgen registers itself, per backend (the kernel-coverage test checks each
 * of wasm and cpu has a native counterpart); `own` are medgen's own, which have none.
 */
export function medgenKernelNames(): {wasm: string[]; cpu: string[]; own: string[]} {
  return {
    wasm: [...Object.keys(MISSING_ON_WASM), ...Object.keys(REPLACED_ON_WASM)],
    cpu: Object.keys(WRONG_ON_CPU),
    own: Object.keys(OWN_ON_WASM)
  }
}
