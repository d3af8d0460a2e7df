// The deterministic closed-form weights of test/fixtures/golden/inception-fid (its config.json
// "fill"): real Inception weights are not shipped, so the fixture fills every tensor from a
// murmur3-fmix32 hash of (flat index, key index). Used by tests and `medgen forward` checks.
import type {TensorMap} from '../../io/tensor-map.js'

/** r(i,k) in [-1,1): fmix32 of (i + k*0x9E3779B1) mod 2^32. */
export function hashUniform(i: number, k: number): number {
  let x = (i + Math.imul(k, 0x9e3779b1)) >>> 0
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b) >>> 0
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35) >>> 0
  x ^= x >>> 16
  x >>>= 0
  return 2 * (x / 4294967296) - 1
}

/** Fills each (name, PyTorch shape) in order; k is the position in `keys`. Float64 math, float32 result. */
export function hashFill(keys: Array<[string, number[]]>): TensorMap {
  const out: TensorMap = new Map()
  keys.forEach(([name, shape], k) => {
    const n = shape.reduce((a, b) => a * b, 1)
    const data = new Float32Array(n)
    let f: (i: number) => number
    if (name.endsWith('conv.weight')) {
      const scale = Math.sqrt(6 / (shape[1] * shape[2] * shape[3]))
      f = i => hashUniform(i, k) * scale
    } else if (name.endsWith('bn.weight')) f = i => 1 + 0.1 * hashUniform(i, k)
    else if (name.endsWith('bn.bias')) f = i => 0.05 * hashUniform(i, k)
    else if (name.endsWith('running_mean')) f = i => 0.01 * Math.sin(i)
    else if (name.endsWith('running_var')) f = i => 1 + 0.1 * Math.cos(i)
    else if (name.startsWith('fc.')) f = i => (0.05 * hashUniform(i, k)) / Math.sqrt(2048)
    else throw new Error(`hashFill: no rule for ${name}`)
    for (let i = 0; i < n; i++) data[i] = f(i)
    out.set(name, {dtype: 'F32', shape, data})
  })
  return out
}
