// A small seeded PRNG whose whole state is four 32-bit words, so training can save it
// in a checkpoint and resume the exact same stream (Reliability contract).
// Algorithm: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), seeded
// through splitmix32 so that nearby seeds give unrelated streams.

export type RngState = [number, number, number, number]

function splitmix32(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number | string = 0) {
    const s = typeof seed === 'string' ? hashString(seed) : seed
    const mix = splitmix32(s)
    this.a = mix()
    this.b = mix()
    this.c = mix()
    this.d = mix()
    for (let i = 0; i < 12; i++) this.nextUint32()
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0)
    r.setState(state)
    return r
  }

  /** A child generator for a named purpose; does not advance this one. */
  fork(label: string | number): Rng {
    return new Rng((hashString(String(label)) ^ this.a ^ Math.imul(this.d, 31)) >>> 0)
  }

  getState(): RngState {
    return [this.a, this.b, this.c, this.d]
  }
  setState(s: RngState): void {
    if (!Array.isArray(s) || s.length !== 4 || s.some(v => !Number.isInteger(v)))
      throw new Error('invalid RNG state in checkpoint')
    ;[this.a, this.b, this.c, this.d] = s.map(v => v >>> 0) as RngState
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n)
  }

  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform()
  }

  /** Standard normal via Box-Muller (no cached spare, so state alone defines the stream). */
  normal(): number {
    let u = 0
    while (u === 0) u = this.uniform()
    const v = this.uniform()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      ;[items[i], items[j]] = [items[j], items[i]]
    }
    return items
  }

  permutation(n: number): number[] {
    return this.shuffle(Array.from({length: n}, (_, i) => i))
  }

  /** A seed for a tfjs random op (tf.randomNormal(..., seed)). */
  tfSeed(): number {
    return this.nextUint32() % 2147483647
  }

  normalArray(n: number, std = 1): Float32Array {
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) out[i] = this.normal() * std
    return out
  }
}

/** FNV-1a, for turning labels into seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/** Per-item seed derived from the run seed and an index (generate: one seed per image). */
export function deriveSeed(runSeed: number, ...parts: Array<string | number>): number {
  let h = hashString(String(runSeed))
  for (const p of parts) h = Math.imul(h ^ hashString(String(p)), 0x01000193) >>> 0
  return h % 2147483647
}
