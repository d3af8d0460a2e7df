// Gradient kernels written as plain loops over host copies of the data, for cases where a
// backend's own kernel is missing or wrong. All are O(size of dy x window) index shuffles, cheap
// next to the convolutions around them. Measured against hand-written references in
// test/backend/wasm-grad.test.ts:
//  - wasm MaxPoolGrad (4.22) routes gradients to wrong positions once a tensor has 4 or more
//    channels (|error| ~ 1 for a 2x2 pool on [1,4,4,4]); replaced here on 'wasm'.
//  - cpu ResizeNearestNeighborGrad (4.22) reads dy with the input's batch stride, so every image
//    after the first gets the wrong gradient; replaced here on 'cpu'.
//  - UnsortedSegmentSum (the gradient of tf.gather) is missing on 'wasm'.
import * as tf from '@tensorflow/tfjs'
import type {TensorInfo, KernelFunc, DataType} from '@tensorflow/tfjs'

const {backend_util, util} = tf

interface HostBackend {
  readSync(dataId: object): ArrayLike<number>
  makeOutput?(shape: number[], dtype: DataType, memoryOffset?: number, values?: ArrayLike<number>): TensorInfo
  makeTensorInfo?(shape: number[], dtype: DataType, values?: ArrayLike<number>): TensorInfo
}

function read(backend: unknown, t: TensorInfo): ArrayLike<number> {
  return (backend as HostBackend).readSync(t.dataId)
}

function output(backend: unknown, shape: number[], dtype: DataType, values: Float32Array | Int32Array): TensorInfo {
  const be = backend as HostBackend
  // cpu also has a makeOutput, with another signature; makeTensorInfo exists only on cpu
  if (be.makeTensorInfo) return be.makeTensorInfo(shape, dtype, values)
  if (be.makeOutput) return be.makeOutput(shape, dtype, undefined, values)
  throw new Error('backend can neither makeOutput nor makeTensorInfo')
}

/** Gradient of tf.gather: rows of x summed into their segment; ids outside [0, n) are dropped, as in TF. */
export const unsortedSegmentSum: KernelFunc = ({inputs, backend, attrs}) => {
  const {x, segmentIds} = inputs as {x: TensorInfo; segmentIds: TensorInfo}
  const {numSegments} = attrs as never as {numSegments: number}
  const values = read(backend, x)
  const ids = read(backend, segmentIds)
  const rows = ids.length
  const rowSize = rows === 0 ? 0 : util.sizeFromShape(x.shape) / rows
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * rowSize) : new Float32Array(numSegments * rowSize)
  for (let r = 0; r < rows; r++) {
    const seg = ids[r]
    if (seg < 0 || seg >= numSegments) continue
    const src = r * rowSize
    const dst = seg * rowSize
    for (let j = 0; j < rowSize; j++) out[dst + j] += values[src + j]
  }
  return output(backend, [numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype, out)
}

/** dy of each pooling window goes to the window's first maximum (TF's tie rule), padding excluded. */
export const maxPoolGrad: KernelFunc = ({inputs, backend, attrs}) => {
  const {dy, input} = inputs as {dy: TensorInfo; input: TensorInfo}
  const {filterSize, strides, pad, dimRoundingMode} = attrs as never as {
    filterSize: number | [number, number]
    strides: number | [number, number]
    pad: never
    dimRoundingMode: never
  }
  const info = backend_util.computePool2DInfo(input.shape as never, filterSize, strides, 1, pad, dimRoundingMode)
  const x = read(backend, input)
  const g = read(backend, dy)
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels: ch,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth
  } = info
  const {top, left} = info.padInfo
  const dx = new Float32Array(util.sizeFromShape(input.shape))
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * ch
        for (let c = 0; c < ch; c++) {
          let best = -1
          let bestValue = -Infinity
          for (let kh = 0; kh < filterHeight; kh++) {
            const ih = oh * strideHeight - top + kh
            if (ih < 0 || ih >= inHeight) continue
            for (let kw = 0; kw < filterWidth; kw++) {
              const iw = ow * strideWidth - left + kw
              if (iw < 0 || iw >= inWidth) continue
              const at = ((b * inHeight + ih) * inWidth + iw) * ch + c
              if (x[at] > bestValue || best < 0) {
                bestValue = x[at]
                best = at
              }
            }
          }
          if (best >= 0) dx[best] += g[dyBase + c]
        }
      }
    }
  }
  return output(backend, input.shape, 'float32', dx)
}

/** Source pixel of a nearest-neighbour resize, exactly as tfjs's forward kernel picks it. */
function nearestSource(
  outIndex: number,
  scale: number,
  inSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean
): number {
  const frac = halfPixelCenters ? scale * (outIndex + 0.5) : scale * outIndex
  let src = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac))
  if (halfPixelCenters) src = Math.max(0, src)
  return src
}

/** Each dy pixel is added to the input pixel the forward pass copied it from. */
export const resizeNearestNeighborGrad: KernelFunc = ({inputs, backend, attrs}) => {
  const {images, dy} = inputs as {images: TensorInfo; dy: TensorInfo}
  const {alignCorners = false, halfPixelCenters = false} = attrs as never as {
    alignCorners?: boolean
    halfPixelCenters?: boolean
  }
  const [batch, inH, inW, ch] = images.shape
  const [, outH, outW] = dy.shape
  const g = read(backend, dy)
  const dx = new Float32Array(batch * inH * inW * ch)
  const scaleH = (alignCorners && outH > 1 ? inH - 1 : inH) / (alignCorners && outH > 1 ? outH - 1 : outH)
  const scaleW = (alignCorners && outW > 1 ? inW - 1 : inW) / (alignCorners && outW > 1 ? outW - 1 : outW)
  const srcCol = Array.from({length: outW}, (_, c) => nearestSource(c, scaleW, inW, alignCorners, halfPixelCenters))
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outH; r++) {
      const sr = nearestSource(r, scaleH, inH, alignCorners, halfPixelCenters)
      for (let c = 0; c < outW; c++) {
        const from = ((b * outH + r) * outW + c) * ch
        const to = ((b * inH + sr) * inW + srcCol[c]) * ch
        for (let k = 0; k < ch; k++) dx[to + k] += g[from + k]
      }
    }
  }
  return output(backend, images.shape, 'float32', dx)
}
