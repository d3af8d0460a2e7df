// Shared helpers for the DiT parity tests: golden tensors in NCHW -> NHWC and comparisons.
import * as tf from '@tensorflow/tfjs'
import {expect} from 'chai'
import {compareArrays} from '../helpers/tmp.js'
import {toFloat32, type HostTensor} from '../../src/io/tensor-map.js'

export function nchwToNhwc(h: HostTensor): tf.Tensor4D {
  return tf.tidy(() => tf.tensor4d(toFloat32(h), h.shape as [number, number, number, number]).transpose([0, 2, 3, 1]))
}

/** Compares a tfjs tensor with a golden tensor (NCHW golden compared after transposing ours back). */
export function expectClose(
  actual: tf.Tensor,
  expected: HostTensor,
  label: string,
  opts: {nchw?: boolean; atol?: number; rtol?: number} = {}
): number {
  const t = opts.nchw ? tf.tidy(() => actual.transpose([0, 3, 1, 2])) : actual
  expect(t.shape, `${label} shape`).to.deep.equal(expected.shape)
  const res = compareArrays(t.dataSync(), toFloat32(expected), opts.atol ?? 1e-4, opts.rtol ?? 1e-4)
  if (opts.nchw) t.dispose()
  expect(res.ok, `${label}: max abs diff ${res.maxAbs} at ${res.worstIndex}`).to.equal(true)
  return res.maxAbs
}
