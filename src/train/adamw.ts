// AdamW with decoupled weight decay (Loshchilov & Hutter), written out because tfjs has none.
// Matches torch.optim.AdamW: p <- p - lr*wd*p; m,v updates; p <- p - lr * mhat / (sqrt(vhat) + eps).
// With weightDecay 0 it is torch's Adam (SDNet uses betas (0.5, 0.999), docs/REFERENCE.md §3.1).
// The moments are exported/imported as a TensorMap so checkpoints restore them exactly.
import * as tf from '@tensorflow/tfjs'
import type {TensorMap} from '../io/tensor-map.js'
import {invalidateWasmCaches, wasmHeapViews} from '../backend/wasm-heap.js'

export interface AdamWOptions {
  lr: number
  beta1?: number
  beta2?: number
  eps?: number
  weightDecay?: number
  /**
   * on wasm, update each parameter and its moments in place in one JS loop instead of a dozen
   * kernels per parameter (default true; bit-identical to the kernel path, test/train/adamw-inplace.test.ts)
   */
  inPlace?: boolean
}

const f32 = Math.fround

export class AdamW {
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  readonly weightDecay: number
  /** number of optimizer steps taken (bias correction uses it) */
  step = 0
  private readonly m = new Map<string, tf.Variable>()
  private readonly v = new Map<string, tf.Variable>()

  constructor(
    readonly params: Map<string, tf.Variable>,
    readonly opts: AdamWOptions
  ) {
    this.beta1 = opts.beta1 ?? 0.9
    this.beta2 = opts.beta2 ?? 0.999
    this.eps = opts.eps ?? 1e-8
    this.weightDecay = opts.weightDecay ?? 0
  }

  private moment(store: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable {
    let slot = store.get(name)
    if (!slot) {
      const zeros = tf.zerosLike(like)
      slot = tf.variable(zeros, false)
      zeros.dispose()
      store.set(name, slot)
    }
    return slot
  }

  /**
   * Applies one update with every gradient multiplied by `gradScale` (global-norm clipping,
   * src/train/clip.ts, folded in here so that it costs no kernel of its own). Gradients for names
   * not in params are an error (a typo would silently freeze a layer).
   */
  applyGradients(grads: Map<string, tf.Tensor>, lr: number = this.opts.lr, gradScale = 1): void {
    this.step += 1
    const bc1 = 1 - this.beta1 ** this.step
    const bc2 = 1 - this.beta2 ** this.step
    for (const [name, g] of grads) {
      const p = this.params.get(name)
      if (!p) throw new Error(`AdamW: gradient for unknown parameter ${name}`)
      const m = this.moment(this.m, name, p)
      const v = this.moment(this.v, name, p)
      if (this.opts.inPlace !== false && this.updateInPlace(p, m, v, g, lr, bc1, bc2, gradScale)) continue
      tf.tidy(() => {
        const scaled = gradScale !== 1 ? g.mul(gradScale) : g
        const newM = m.mul(this.beta1).add(scaled.mul(1 - this.beta1))
        const newV = v.mul(this.beta2).add(scaled.square().mul(1 - this.beta2))
        m.assign(newM)
        v.assign(newV)
        const decayed = this.weightDecay > 0 ? p.mul(1 - lr * this.weightDecay) : p
        const denom = newV.div(bc2).sqrt().add(this.eps)
        p.assign(decayed.sub(newM.div(bc1).div(denom).mul(lr)))
      })
    }
  }

  /**
   * The update above as one loop over the wasm heap, each operation rounded to float32 in the
   * kernels' order (a product or quotient of two float32 values, rounded once, is the float32
   * result), so parameters and moments are bit-identical to the kernel path. It replaces about a
   * dozen kernel calls per parameter (1,200 per step of the demo's DiT, issue 20). False (nothing
   * written) where it does not apply: another backend, or memory shared with another tensor.
   */
  private updateInPlace(
    p: tf.Variable,
    m: tf.Variable,
    v: tf.Variable,
    g: tf.Tensor,
    lr: number,
    bc1: number,
    bc2: number,
    gradScale: number
  ): boolean {
    if (g.size !== p.size) return false
    const views = wasmHeapViews([g], [p, m, v])
    if (!views) return false
    const [gd] = views.read
    const [pd, md, vd] = views.write
    const b1 = f32(this.beta1),
      c1 = f32(1 - this.beta1),
      b2 = f32(this.beta2),
      c2 = f32(1 - this.beta2)
    const fbc1 = f32(bc1),
      fbc2 = f32(bc2),
      eps = f32(this.eps),
      flr = f32(lr),
      decay = f32(1 - lr * this.weightDecay),
      scale = f32(gradScale)
    const decays = this.weightDecay > 0
    const scales = gradScale !== 1
    for (let i = 0; i < pd.length; i++) {
      const gi = scales ? f32(gd[i] * scale) : gd[i]
      const mi = f32(f32(md[i] * b1) + f32(gi * c1))
      const vi = f32(f32(vd[i] * b2) + f32(f32(gi * gi) * c2))
      md[i] = mi
      vd[i] = vi
      const denom = f32(f32(Math.sqrt(f32(vi / fbc2))) + eps)
      const pi = decays ? f32(pd[i] * decay) : pd[i]
      pd[i] = pi - f32(f32(f32(mi / fbc1) / denom) * flr)
    }
    invalidateWasmCaches([p, m, v])
    return true
  }

  async exportState(): Promise<TensorMap> {
    const out: TensorMap = new Map()
    out.set('__step', {dtype: 'F64', shape: [1], data: new Float64Array([this.step])})
    for (const [prefix, store] of [
      ['m', this.m],
      ['v', this.v]
    ] as const) {
      for (const [name, t] of store) {
        out.set(`${prefix}.${name}`, {
          dtype: 'F32',
          shape: t.shape.slice(),
          data: new Float32Array((await t.data()) as Float32Array)
        })
      }
    }
    return out
  }

  importState(state: TensorMap): void {
    const step = state.get('__step')
    this.step = step ? Number(step.data[0]) : 0
    for (const [key, host] of state) {
      if (key === '__step') continue
      const dot = key.indexOf('.')
      const store = key.slice(0, dot) === 'm' ? this.m : this.v
      const name = key.slice(dot + 1)
      const p = this.params.get(name)
      if (!p) throw new Error(`optimizer state has moments for unknown parameter ${name}`)
      const value = tf.tensor(host.data as Float32Array, host.shape, 'float32')
      const existing = store.get(name)
      if (existing) {
        existing.assign(value)
        value.dispose()
      } else {
        store.set(name, tf.variable(value, false))
        value.dispose()
      }
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose()
    this.m.clear()
    this.v.clear()
  }
}
