// Scheduler parity with diffusers v0.27.2 (golden/schedulers, README §4): timesteps identical,
// DDIM and DPM-Solver++ trajectories under the fixture's fake model within atol/rtol 1e-4,
// betas/alphas_cumprod, add_noise, and the CFG + learned-sigma combination.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {readSafetensors} from '../../src/io/safetensors.js'
import {toFloat32, type TensorMap} from '../../src/io/tensor-map.js'
import {createScheduler, type SamplerName} from '../../src/diffusion/index.js'
import {DdpmScheduler} from '../../src/diffusion/ddpm.js'
import {DpmSolverMultistepScheduler} from '../../src/diffusion/dpm-solver.js'
import {combineGuidance} from '../../src/diffusion/guidance.js'
import {alphasCumprod, linearBetas} from '../../src/diffusion/noise-schedule.js'
import {compareArrays, goldenDir} from '../helpers/tmp.js'
import {useTestBackend} from '../helpers/backend.js'

const dir = join(goldenDir, 'schedulers')
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
const {atol, rtol} = config.tolerance_float32 as {atol: number; rtol: number}
const f32 = Math.fround

/** The fixture's fake model: eps(x, t) = tanh(0.5 x) * (t/1000) + 0.05 cos(t/100), float32. */
function fakeEps(x: Float32Array, t: number): Float32Array {
  const scale = f32(t / 1000)
  const offset = f32(0.05 * Math.cos(t / 100))
  return x.map(v => f32(f32(Math.tanh(f32(0.5 * v)) * scale) + offset))
}

function samplerFor(className: string): SamplerName {
  if (className.startsWith('DPMSolverMultistep')) return 'dpm-solver++'
  if (className.startsWith('DDIM')) return 'ddim'
  if (className.startsWith('DDPM')) return 'ddpm'
  throw new Error(`unknown scheduler ${className}`)
}

function slice(t: Float32Array, index: number, count: number): Float32Array {
  const per = t.length / count
  return t.subarray(index * per, (index + 1) * per)
}

function nchwToNhwc(data: Float32Array, [n, c, h, w]: number[]): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(data, [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D)
}

describe('generate: schedulers vs diffusers (golden/schedulers)', () => {
  let golden: TensorMap
  const get = (name: string): Float32Array => toFloat32(golden.get(name)!)
  before(async () => {
    await useTestBackend()
    golden = await readSafetensors(join(dir, 'data.safetensors'))
  })

  it('betas and alphas_cumprod match the float32 torch schedule (within 2 ulp)', () => {
    const betas = linearBetas()
    const acp = alphasCumprod(betas)
    const b = compareArrays(betas, get('betas'), 0, 3e-7) // bit-identical today; 2 ulp of slack for other CPU kernels
    const a = compareArrays(acp, get('alphas_cumprod'), 0, 3e-7)
    expect(b.ok, `betas max abs ${b.maxAbs}`).to.equal(true)
    expect(a.ok, `alphas_cumprod max abs ${a.maxAbs}`).to.equal(true)
  })

  for (const [run, spec] of Object.entries(
    config.runs as Record<string, {scheduler: string; num_inference_steps: number}>
  )) {
    it(`${run}: timesteps identical and the trajectory within tolerance`, () => {
      const scheduler = createScheduler(samplerFor(spec.scheduler))
      scheduler.setTimesteps(spec.num_inference_steps)
      const expectedTimesteps = Array.from(golden.get(`${run}.timesteps`)!.data as BigInt64Array, Number)
      expect(scheduler.timesteps).to.deep.equal(expectedTimesteps)
      if (scheduler instanceof DpmSolverMultistepScheduler) {
        const s = compareArrays(scheduler.sigmas, get(`${run}.sigmas`), 1e-7, 1e-6)
        expect(s.ok, `sigmas max abs ${s.maxAbs}`).to.equal(true)
      }
      const latents = get(`${run}.latents`)
      const outputs = get(`${run}.model_outputs`)
      const steps = scheduler.timesteps.length
      let x: Float32Array = Float32Array.from(slice(latents, 0, steps + 1)).map(v => v * scheduler.initNoiseSigma)
      for (const [i, t] of scheduler.timesteps.entries()) {
        const eps = fakeEps(x, t)
        const m = compareArrays(eps, slice(outputs, i, steps), atol, rtol)
        expect(m.ok, `${run} step ${i} (t=${t}) model output max abs ${m.maxAbs}`).to.equal(true)
        x = scheduler.step(eps, t, x)
        const r = compareArrays(x, slice(latents, i + 1, steps + 1), atol, rtol)
        expect(r.ok, `${run} after step ${i} (t=${t}) max abs ${r.maxAbs}`).to.equal(true)
      }
    })
  }

  it('DDPM add_noise matches DDPMScheduler.add_noise', () => {
    const ddpm = new DdpmScheduler()
    const timesteps = Array.from(golden.get('add_noise.timesteps')!.data as BigInt64Array, Number)
    const noisy = ddpm.addNoise(get('add_noise.original'), get('add_noise.noise'), timesteps)
    const r = compareArrays(noisy, get('add_noise.noisy'), atol, rtol)
    expect(r.ok, `max abs ${r.maxAbs}`).to.equal(true)
  })

  it('CFG: [uncond; cond] split, guidance on all channels, first half of the learned sigma kept', async () => {
    const shape = golden.get('cfg.model_output')!.shape
    const outShape = golden.get('cfg.noise_pred')!.shape
    const modelOutput = nchwToNhwc(get('cfg.model_output'), shape)
    const eps = combineGuidance(modelOutput, config.cfg.guidance_scale, outShape[1])
    const nchw = tf.transpose(eps, [0, 3, 1, 2])
    const r = compareArrays(await nchw.data(), get('cfg.noise_pred'), atol, rtol)
    expect(r.ok, `max abs ${r.maxAbs}`).to.equal(true)
    // the full guided tensor (before dropping the variance half) too
    const full = combineGuidance(modelOutput, config.cfg.guidance_scale, shape[1])
    const fullNchw = tf.transpose(full, [0, 3, 1, 2])
    const g = compareArrays(await fullNchw.data(), get('cfg.guided_full'), atol, rtol)
    expect(g.ok, `guided_full max abs ${g.maxAbs}`).to.equal(true)
    tf.dispose([modelOutput, eps, nchw, full, fullNchw])
  })

  it('guidance 1 or 0 keeps the conditional output unchanged (only eps channels)', async () => {
    const out = tf.randomNormal([2, 3, 3, 8], 0, 1, 'float32', 5) as tf.Tensor4D
    for (const scale of [0, 1]) {
      const eps = combineGuidance(out, scale, 4)
      expect(eps.shape).to.deep.equal([2, 3, 3, 4])
      const expected = tf.slice(out, [0, 0, 0, 0], [2, 3, 3, 4])
      expect(compareArrays(await eps.data(), await expected.data(), 0, 0).ok).to.equal(true)
      tf.dispose([eps, expected])
    }
    out.dispose()
  })

  it('DDPM step = the DDPM paper posterior (Ho et al. eq. 7) with beta~_t variance, over the full 1000-step schedule', () => {
    const ddpm = new DdpmScheduler()
    ddpm.setTimesteps(1000)
    const betas = get('betas')
    const acp = get('alphas_cumprod')
    const x = Float32Array.from({length: 32}, (_, i) => Math.sin(i * 1.7) * 0.8)
    const z = Float32Array.from({length: 32}, (_, i) => Math.cos(i * 0.3))
    for (const t of [999, 500, 37, 1]) {
      const eps = fakeEps(x, t)
      const out = ddpm.step(eps, t, x, () => z)
      const beta = betas[t]
      const a = 1 - beta
      const abar = acp[t]
      const abarPrev = acp[t - 1]
      const expected = Array.from(x, (xt, k) => {
        const x0 = Math.max(-1, Math.min(1, (xt - Math.sqrt(1 - abar) * eps[k]) / Math.sqrt(abar)))
        const mean =
          ((Math.sqrt(abarPrev) * beta) / (1 - abar)) * x0 + ((Math.sqrt(a) * (1 - abarPrev)) / (1 - abar)) * xt
        return mean + Math.sqrt(((1 - abarPrev) / (1 - abar)) * beta) * z[k]
      })
      const r = compareArrays(out, expected, 1e-5, 1e-4)
      expect(r.ok, `t=${t} max abs ${r.maxAbs}`).to.equal(true)
    }
  })

  it('DDPM ancestral steps: seeded noise reproducible, x0 clipped, last step noise-free', () => {
    const run = () => {
      const ddpm = new DdpmScheduler()
      ddpm.setTimesteps(10)
      expect(ddpm.timesteps[0]).to.equal(999)
      expect(ddpm.timesteps.at(-1)).to.equal(0)
      let state = 12345
      const noise = (n: number) =>
        Float32Array.from({length: n}, () => {
          state = (state * 1103515245 + 12345) % 2147483648
          return state / 2147483648 - 0.5
        })
      let x: Float32Array = Float32Array.from({length: 16}, (_, i) => Math.sin(i) * 3)
      for (const t of ddpm.timesteps) x = ddpm.step(fakeEps(x, t), t, x, noise)
      return x
    }
    const a = run()
    const b = run()
    expect(Array.from(a)).to.deep.equal(Array.from(b))
    // the final step (t = 0) returns the clipped x0 mixed with nothing else: |x| <= 1
    for (const v of a) expect(Math.abs(v)).to.be.at.most(1 + 1e-6)
    expect(() => new DdpmScheduler().step(new Float32Array(4), 999, new Float32Array(4))).to.throw(/noise source/)
  })
})
