// Pixel-space fixes for from-scratch DiTs: per-channel normalisation to std 0.5 with the data
// range recorded, and the samplers' optional x0 clip to that range (off by default: golden
// scheduler parity in test/generate/schedulers.test.ts covers the default path).
import {expect} from 'chai'
import {centrePixels} from '../../src/stages/dit/batch.js'
import {DpmSolverMultistepScheduler} from '../../src/diffusion/dpm-solver.js'
import {DdimScheduler} from '../../src/diffusion/ddim.js'
import {defaultSchedulerOptions} from '../../src/diffusion/scheduler.js'
import {Rng} from '../../src/util/rng.js'

describe('dit: pixel normalisation and x0 clipping', () => {
  it("centrePixels: per-channel mean 0 and std 0.5, clipRange = max |x'|, invertible with (mean, scale)", () => {
    const rng = new Rng(3)
    const raw = Array.from({length: 4}, () =>
      Float32Array.from({length: 3 * 50}, (_, i) => [0.6, 0.2, -0.1][i % 3] + [0.1, 0.3, 0.05][i % 3] * rng.normal())
    )
    const samples = raw.map(s => s.slice())
    const norm = centrePixels(samples, 3)
    let maxAbs = 0
    for (let k = 0; k < 3; k++) {
      const vals = samples.flatMap(s => Array.from(s).filter((_, i) => i % 3 === k))
      const mean = vals.reduce((a, b) => a + b, 0) / vals.length
      const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length)
      expect(mean).to.be.closeTo(0, 1e-6)
      expect(std).to.be.closeTo(0.5, 1e-4)
      maxAbs = Math.max(maxAbs, ...vals.map(Math.abs))
    }
    expect(norm.clipRange).to.be.closeTo(maxAbs, 1e-6)
    samples.forEach((s, j) =>
      s.forEach((v, i) => expect(v * norm.scale[i % 3] + norm.mean[i % 3]).to.be.closeTo(raw[j][i], 1e-5))
    )
  })

  it('DPM-Solver++ with x0ClipRange clamps the data prediction; without it the step is unchanged', () => {
    const sample = Float32Array.from([3, -3, 0.01, 0])
    const eps = new Float32Array(4)
    const plain = new DpmSolverMultistepScheduler()
    const clipped = new DpmSolverMultistepScheduler({...defaultSchedulerOptions, x0ClipRange: 2})
    // one step from t = 999 to sigma 0 returns x0 itself: x/alpha unclipped, clamped to [-2, 2] with the option
    plain.setTimesteps(1)
    clipped.setTimesteps(1)
    const a = plain.step(eps, plain.timesteps[0], sample)
    const b = clipped.step(eps, clipped.timesteps[0], sample)
    expect(a[0]).to.be.greaterThan(100)
    expect(Array.from(b)).to.deep.equal(Array.from(a, v => Math.min(2, Math.max(-2, v))))
  })

  it('DDIM uses x0ClipRange instead of clip_sample_range when given', () => {
    const sample = Float32Array.from([3, -3])
    const eps = new Float32Array(2)
    const t = 10
    const ddim = (opts = defaultSchedulerOptions): Float32Array => {
      const s = new DdimScheduler(opts)
      s.setTimesteps(50)
      return s.step(eps, t, sample)
    }
    const acp = new DdimScheduler().alphasCumprod[t]
    const x0 = 3 / Math.sqrt(acp)
    expect(x0).to.be.greaterThan(3)
    // prev timestep < 0: the step returns x0 (alpha_prev = 1, direction 0)
    expect(ddim()[0]).to.be.closeTo(1, 1e-6)
    expect(ddim({...defaultSchedulerOptions, x0ClipRange: 3})[0]).to.be.closeTo(3, 1e-5)
    expect(ddim({...defaultSchedulerOptions, x0ClipRange: 3})[1]).to.be.closeTo(-3, 1e-5)
  })
})
