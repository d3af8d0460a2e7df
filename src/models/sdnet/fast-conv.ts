// Conv2d (odd square kernel, padding (k-1)/2, stride 1 or 2: every conv in SDNet) whose
// gradients are themselves forward convolutions. On the wasm backend the forward Conv2D runs
// in XNNPACK while Conv2DBackpropInput/Filter are 6-10x slower (measured at 8x64x64x16->16:
// forward 33 ms; backprop-input kernel 263 ms vs 34 ms here; backprop-filter kernel 250 ms
// vs 38 ms here). Same mathematics, so every backend may use it:
//   dx = conv(dy spread to stride spacing, flip_hw(w) with in/out swapped, pad)
//   dw = conv(x as [Cin, H, W, B], dy as a [oh, ow, B, Cout] filter dilated by the stride), back to HWIO
import * as tf from '@tensorflow/tfjs'

type Pad4 = [[number, number], [number, number], [number, number], [number, number]]

/** w[kh, kw, ci, co] -> w[k-1-kh, k-1-kw, co, ci] (split + concat: 2x faster than Reverse or Gather on wasm). */
function flipSwap(w: tf.Tensor4D): tf.Tensor4D {
  const [k, , ci, co] = w.shape
  const flipped =
    k === 1 ? w : tf.concat(tf.split(w.reshape([k * k, ci * co]), k * k, 0).reverse(), 0).reshape([k, k, ci, co])
  return flipped.transpose([0, 1, 3, 2]) as tf.Tensor4D
}

/** [B, oh, ow, C] -> [B, oh*s, ow*s, C] with dy at multiples of s and zeros between. */
function spread(dy: tf.Tensor4D, s: number): tf.Tensor4D {
  if (s === 1) return dy
  const [b, oh, ow, c] = dy.shape
  return dy
    .reshape([b, oh, 1, ow, 1, c])
    .pad([
      [0, 0],
      [0, 0],
      [0, s - 1],
      [0, 0],
      [0, s - 1],
      [0, 0]
    ])
    .reshape([b, oh * s, ow * s, c])
}

function makeConv(stride: number, withBias: boolean): (...args: tf.Tensor[]) => tf.Tensor4D {
  return tf.customGrad(((...args: unknown[]) => {
    const [x, w] = args as [tf.Tensor4D, tf.Tensor4D]
    const bias = withBias ? (args[2] as tf.Tensor1D) : undefined
    const save = args[withBias ? 3 : 2] as (t: tf.Tensor[]) => void
    const k = w.shape[0]
    if (w.shape[1] !== k || k % 2 !== 1)
      throw new Error(`fast conv: odd square kernels only, got ${w.shape[0]}x${w.shape[1]}`)
    const p = (k - 1) / 2
    // explicit padding: tfjs sizes numeric padding from the filter height alone, wrong for the
    // non-square [oh, ow] "filter" of the weight gradient
    const pad: Pad4 = [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0]
    ]
    save([x, w])
    return {
      // the bias is fused into the conv kernel: one activation tensor per conv instead of two
      value: bias ? tf.fused.conv2d({x, filter: w, strides: stride, pad, bias}) : tf.conv2d(x, w, stride, pad),
      // tidy: the backward pass keeps every tensor made inside gradFunc until it ends, and wasm
      // caches an XNNPACK operator per filter until that filter is disposed (the dw conv's
      // [oh, ow] "filter" holds an indirection buffer of B*k*k*oh*ow*Cin pointers: 115 MB for
      // one 224 px layer); without it a 224 px step outgrew the 4 GB heap
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D]
          const [, h, wd] = sx.shape
          const [, oh, ow] = dy.shape
          // dx: rows of the spread dy run to oh*stride; pad so the output covers h (+ crop)
          const up = spread(dy, stride)
          const padX: Pad4 = [
            [0, 0],
            [p, Math.max(0, h + k - 1 - p - oh * stride)],
            [p, Math.max(0, wd + k - 1 - p - ow * stride)],
            [0, 0]
          ]
          let dx = tf.conv2d(up, flipSwap(sw), 1, padX)
          if (dx.shape[1] !== h || dx.shape[2] !== wd) dx = dx.slice([0, 0, 0, 0], [-1, h, wd, -1])
          // dw: output must be k x k; the bottom/right padding that the forward pass never read is dropped
          const padW: Pad4 = [
            [0, 0],
            [p, k - p + stride * (oh - 1) - h],
            [p, k - p + stride * (ow - 1) - wd],
            [0, 0]
          ]
          const dw = tf
            .conv2d(
              sx.transpose([3, 1, 2, 0]) as tf.Tensor4D,
              dy.transpose([1, 2, 0, 3]) as tf.Tensor4D,
              1,
              padW,
              'NHWC',
              stride
            )
            .transpose([1, 2, 0, 3])
          return withBias ? [dx, dw, dy.sum([0, 1, 2])] : [dx, dw]
        })
    }
  }) as never) as never
}

const convs = new Map<string, (...args: tf.Tensor[]) => tf.Tensor4D>()

/** PyTorch Conv2d(k, stride, padding=(k-1)/2), NHWC/HWIO, with an optional bias. */
export function conv2dFast(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, bias?: tf.Tensor): tf.Tensor4D {
  const key = `${stride}:${bias ? 'b' : ''}`
  let f = convs.get(key)
  if (!f) {
    f = makeConv(stride, !!bias)
    convs.set(key, f)
  }
  return bias ? f(x, w, bias) : f(x, w)
}
