// Parity with test/fixtures/golden/frechet (pytorch-fid calculate_frechet_distance, scipy sqrtm).
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {readSafetensors} from '../../src/io/safetensors.js'
import {
  frechetDistance,
  frechetFromStats,
  gaussianStats,
  meanFloat32,
  type FeatureSet
} from '../../src/metrics/frechet.js'
import {goldenDir, compareArrays} from '../helpers/tmp.js'

const dir = join(goldenDir, 'frechet')
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))

async function loadCase(name: string): Promise<{a: FeatureSet; b: FeatureSet; t: Map<string, any>}> {
  const t = await readSafetensors(join(dir, `${name}.safetensors`))
  const fa = t.get('features_a')!,
    fb = t.get('features_b')!
  return {
    a: {n: fa.shape[0], d: fa.shape[1], data: fa.data as Float32Array},
    b: {n: fb.shape[0], d: fb.shape[1], data: fb.data as Float32Array},
    t
  }
}

function rel(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected)
}

describe('metrics/frechet (golden/frechet)', () => {
  for (const [name, c] of Object.entries<any>(config.cases)) {
    const small = c.d <= 96 && !c.sigma_singular
    const rtol = small ? 1e-6 : 1e-3
    it(`${name}: d=${c.d} n=${c.n_a}/${c.n_b} within rtol ${rtol} (both paths where affordable)`, async function () {
      this.timeout(60000)
      const {a, b, t} = await loadCase(name)
      const started = Date.now()
      const r = frechetDistance(a, b)
      const seconds = (Date.now() - started) / 1000
      if (c.d >= 1024)
        console.log(
          `      ${name}: ${r.method} path, ${seconds.toFixed(2)} s, fid ${r.value} vs ${c.fid} (rel ${rel(r.value, c.fid).toExponential(2)})`
        )
      expect(rel(r.value, c.fid), `fid ${r.value} vs ${c.fid}`).to.be.lessThan(rtol)
      expect(rel(r.value, c.fid_eig_formulation_f64)).to.be.lessThan(1e-6)
      expect(rel(r.trSigma1, c.tr_sigma1)).to.be.lessThan(1e-9)
      expect(rel(r.trSigma2, c.tr_sigma2)).to.be.lessThan(1e-9)
      expect(rel(r.diffSq, c.diff_sq)).to.be.lessThan(1e-6)
      expect(r.epsPathTaken).to.equal(c.eps_path_taken)
      if (c.d >= 1024) expect(seconds, 'd2048 must take < 10 s').to.be.lessThan(10)
      if (c.d <= 96) {
        // The other exact path gives the same value.
        const other = frechetDistance(a, b, {method: r.method === 'eigen' ? 'low-rank' : 'eigen'})
        expect(rel(other.value, c.fid_eig_formulation_f64)).to.be.lessThan(1e-6)
        // Statistics as pytorch-fid / np.cov compute them.
        const sa = gaussianStats(a)
        expect(compareArrays(sa.mu, t.get('mu_a').data, 0, 0).ok, 'float32 mean bit-exact').to.equal(true)
        expect(compareArrays(sa.sigma, t.get('sigma_a').data, 1e-12, 1e-9).ok).to.equal(true)
        expect(compareArrays(meanFloat32(b), t.get('mu_b').data, 0, 0).ok).to.equal(true)
        // pytorch-fid's eps-offset branch, forced.
        const forced = frechetFromStats(sa, gaussianStats(b), {forceEps: true})
        expect(forced.epsPathTaken).to.equal(true)
        expect(
          rel(forced.value, c.fid_forced_eps_offset),
          `forced eps ${forced.value} vs ${c.fid_forced_eps_offset}`
        ).to.be.lessThan(rtol)
      }
    })
  }

  it('a set against itself is ~0, and grows monotonically with added noise (4 levels)', async () => {
    const {a} = await loadCase('d64')
    expect(Math.abs(frechetDistance(a, a).value)).to.be.lessThan(1e-8)
    let seed = 1
    const noise = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
      return seed / 4294967296 - 0.5
    }
    const base = Float32Array.from(a.data)
    const eps = Array.from(base, () => noise())
    const values = [0.1, 0.3, 0.6, 1.0].map(
      level => frechetDistance(a, {...a, data: base.map((v, i) => v + level * eps[i])}).value
    )
    for (let i = 1; i < values.length; i++) expect(values[i]).to.be.greaterThan(values[i - 1])
    expect(values[0]).to.be.greaterThan(0)
  })

  it('rejects mismatched dimensions and too few samples', () => {
    expect(() =>
      frechetDistance({n: 3, d: 2, data: new Float32Array(6)}, {n: 3, d: 3, data: new Float32Array(9)})
    ).to.throw(/dimensions differ/)
    expect(() =>
      frechetDistance({n: 1, d: 2, data: new Float32Array(2)}, {n: 3, d: 2, data: new Float32Array(6)})
    ).to.throw(/at least 2 samples/)
  })
})
