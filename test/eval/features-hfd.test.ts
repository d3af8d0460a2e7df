// Feature-file readers (.npy/.npz/.safetensors) and the spectral hfd metric.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tmpDir} from '../helpers/tmp.js'
import {npy, zip} from './helpers.js'
import {loadFeatureFile, parseNpy} from '../../src/metrics/feature-files.js'
import {writeSafetensors} from '../../src/io/safetensors.js'
import {fft, powerSpectrum2d, spectralFeature, bandRings} from '../../src/metrics/hfd.js'
import {frechetDistance} from '../../src/metrics/frechet.js'
import {Rng} from '../../src/util/rng.js'

describe('eval/feature files', () => {
  const feats = Float32Array.from({length: 5 * 4}, (_, i) => Math.sin(i) * 3)
  it('reads .npy features, and .npz (stored and deflated) with features or pytorch-fid mu/sigma', async () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'a.npy'), npy(feats, [5, 4]))
    const a = await loadFeatureFile(join(dir, 'a.npy'))
    expect(a.kind).to.equal('features')
    if (a.kind === 'features') {
      expect([a.features.n, a.features.d]).to.deep.equal([5, 4])
      expect(Array.from(a.features.data)).to.deep.equal(Array.from(feats))
    }
    for (const deflate of [false, true]) {
      const mu = Float64Array.from([1, 2, 3, 4]),
        sigma = Float64Array.from({length: 16}, (_, i) => (i % 5 === 0 ? 2 : 0.1))
      writeFileSync(
        join(dir, `s${deflate}.npz`),
        zip({'mu.npy': npy(mu, [4]), 'sigma.npy': npy(sigma, [4, 4])}, deflate)
      )
      const s = await loadFeatureFile(join(dir, `s${deflate}.npz`))
      expect(s.kind).to.equal('stats')
      if (s.kind === 'stats') {
        expect(Array.from(s.stats.mu)).to.deep.equal([1, 2, 3, 4])
        expect(Array.from(s.stats.sigma)).to.deep.equal(Array.from(sigma))
      }
      writeFileSync(join(dir, `f${deflate}.npz`), zip({'arr_0.npy': npy(feats, [5, 4])}, deflate))
      const f = await loadFeatureFile(join(dir, `f${deflate}.npz`))
      expect(f.kind).to.equal('features')
    }
    await writeSafetensors(join(dir, 'p.safetensors'), {pool3: {dtype: 'F32', shape: [5, 4], data: feats}})
    const p = await loadFeatureFile(join(dir, 'p.safetensors'))
    expect(p.kind === 'features' && p.features.n).to.equal(5)
  })

  it('names the problem in bad files', async () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'bad.npy'), Buffer.from('hello world, not numpy'))
    let msg = ''
    try {
      await loadFeatureFile(join(dir, 'bad.npy'))
    } catch (e) {
      msg = (e as Error).message
    }
    expect(msg).to.match(/bad\.npy: not a \.npy array/)
    writeFileSync(join(dir, 'x.npz'), zip({'v.npy': npy(Float32Array.from([1, 2]), [2])}, false))
    try {
      await loadFeatureFile(join(dir, 'x.npz'))
    } catch (e) {
      msg = (e as Error).message
    }
    expect(msg).to.match(/x\.npz: no \[n,d\] feature matrix and no mu\/sigma pair found \(arrays: v\)/)
    expect(() => parseNpy(npy(Float32Array.from([1, 2, 3]), [4]), 't.npy')).to.throw(/truncated/)
  })
})

describe('metrics/hfd', () => {
  it('the FFT equals a direct DFT', () => {
    const n = 16,
      rng = new Rng(1)
    const x = Float64Array.from({length: n}, () => rng.normal())
    const re = Float64Array.from(x),
      im = new Float64Array(n)
    fft(re, im)
    for (let k = 0; k < n; k++) {
      let sr = 0,
        si = 0
      for (let t = 0; t < n; t++) {
        sr += x[t] * Math.cos((-2 * Math.PI * k * t) / n)
        si += x[t] * Math.sin((-2 * Math.PI * k * t) / n)
      }
      expect(Math.abs(re[k] - sr) + Math.abs(im[k] - si)).to.be.lessThan(1e-9)
    }
  })

  it("Parseval: the power spectrum's sum equals the image energy", () => {
    const size = 8,
      rng = new Rng(2)
    const img = Float64Array.from({length: size * size}, () => rng.normal())
    const p = powerSpectrum2d(img, size)
    const energy = img.reduce((a, v) => a + v * v, 0)
    expect(Math.abs(p.reduce((a, v) => a + v, 0) - energy)).to.be.lessThan(1e-9)
  })

  it('hfd of a set against itself is ~0 and grows with added high-frequency noise (4 levels)', () => {
    const size = 32,
      opts = {size, bandLow: 0.25, bandHigh: 1}
    expect(bandRings(opts)).to.deep.equal([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
    const rng = new Rng(3)
    const smooth = (k: number, noise: number) => {
      const rgb = new Uint8Array(size * size * 3)
      const r2 = new Rng(100 + k)
      const cx = r2.range(10, 22),
        cy = r2.range(10, 22)
      for (let i = 0; i < size * size; i++) {
        const v =
          128 + 90 * Math.exp(-(((i % size) - cx) ** 2 + (Math.floor(i / size) - cy) ** 2) / 60) + noise * rng.normal()
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = Math.max(0, Math.min(255, Math.round(v)))
      }
      return rgb
    }
    const feats = (noise: number) => {
      const rows = Array.from({length: 30}, (_, k) => spectralFeature(smooth(k, noise), opts))
      const d = rows[0].length
      const data = new Float64Array(rows.length * d)
      rows.forEach((r, i) => data.set(r, i * d))
      return {n: rows.length, d, data}
    }
    const real = feats(2)
    expect(Math.abs(frechetDistance(real, real).value)).to.be.lessThan(1e-8)
    const values = [4, 8, 16, 32].map(level => frechetDistance(real, feats(level)).value)
    for (let i = 1; i < values.length; i++) expect(values[i]).to.be.greaterThan(values[i - 1])
  })
})
