// Parity with test/fixtures/golden/kid (torch-fidelity's KID formulas in float64).
import {expect} from 'chai'
import {readFileSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {readSafetensors} from '../../src/io/safetensors.js'
import {kid, kidFromSubsets, mmd2Unbiased} from '../../src/metrics/kid.js'
import type {FeatureSet} from '../../src/metrics/frechet.js'
import {goldenDir} from '../helpers/tmp.js'

const dir = join(goldenDir, 'kid')
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
const tol = config.tolerance.float64 as {rtol: number; atol: number}
const close = (a: number, e: number) => Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e)

async function features(file: string): Promise<{a: FeatureSet; b: FeatureSet}> {
  const t = await readSafetensors(join(dir, file))
  const fa = t.get('features_a')!,
    fb = t.get('features_b')!
  return {
    a: {n: fa.shape[0], d: fa.shape[1], data: fa.data as Float32Array},
    b: {n: fb.shape[0], d: fb.shape[1], data: fb.data as Float32Array}
  }
}

function rowsOf(t: {shape: number[]; data: any}): number[][] {
  const [s, k] = t.shape
  return Array.from({length: s}, (_, i) => Array.from(t.data.subarray(i * k, (i + 1) * k), v => Number(v)))
}

describe('metrics/kid (golden/kid)', () => {
  for (const [name, c] of Object.entries<any>(config.cases)) {
    it(`${name}: full-set unbiased MMD² and per-subset values within rtol ${tol.rtol}`, async function () {
      this.timeout(60000)
      const {a, b} = await features(c.features_file)
      expect(a.d).to.equal(c.d)
      const full = mmd2Unbiased(a, b)
      expect(
        close(full, c.mmd2_full_unbiased_general_f64),
        `full ${full} vs ${c.mmd2_full_unbiased_general_f64}`
      ).to.equal(true)
      const subsetsFile = join(dir, `${name}_subsets.safetensors`)
      if (!c.subsets) {
        expect(existsSync(subsetsFile)).to.equal(false)
        return
      }
      const s = await readSafetensors(subsetsFile)
      const r = kidFromSubsets(a, b, rowsOf(s.get('subset_idx_a')!), rowsOf(s.get('subset_idx_b')!))
      expect(r.subsets).to.equal(c.subsets)
      expect(r.subsetSize).to.equal(c.subset_size)
      r.perSubset.forEach((v, i) =>
        expect(close(v, c.per_subset_mmd2_f64[i]), `subset ${i}: ${v} vs ${c.per_subset_mmd2_f64[i]}`).to.equal(true)
      )
      expect(close(r.mean, c.kid_mean_f64)).to.equal(true)
      expect(close(r.std, c.kid_std_f64)).to.equal(true)
    })
  }

  it('seeded subsets: same seed same result, default subset size min(1000, n_real, n_gen)', async () => {
    const {a, b} = await features('../frechet/d16.safetensors')
    const r1 = kid(a, b, {subsets: 5, subsetSize: 0, seed: 3})
    const r2 = kid(a, b, {subsets: 5, subsetSize: 0, seed: 3})
    expect(r1.perSubset).to.deep.equal(r2.perSubset)
    expect(r1.subsetSize).to.equal(500)
    const r3 = kid(a, b, {subsets: 5, subsetSize: 50, seed: 4})
    expect(r3.perSubset).to.not.deep.equal(r1.perSubset)
    expect(() => kid(a, b, {subsets: 2, subsetSize: 501, seed: 1})).to.throw(/kidSubsetSize/)
  })

  it('a set against itself scores far below two different sets', async () => {
    const {a, b} = await features('../frechet/d64.safetensors')
    const self = kid(a, a, {subsets: 10, subsetSize: 100, seed: 1})
    const other = kid(a, b, {subsets: 10, subsetSize: 100, seed: 1})
    expect(Math.abs(self.mean)).to.be.lessThan(other.mean / 5)
  })
})
