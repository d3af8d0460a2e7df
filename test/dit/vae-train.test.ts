// The demo's own VAE (dit.vae.train): names and shapes agree with a real diffusers AutoencoderKL
// (the golden vae-tiny state_dict), training lowers the reconstruction loss on lesion images, and
// a saved VAE loads back through the diffusers-folder loader and decodes identically.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {goldenDir, tmpDir} from '../helpers/tmp.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import {readJsonFile} from '../../src/models/pixart/load.js'
import {parseVaeConfig, vaeDecode, vaeEncode} from '../../src/models/vae/autoencoder.js'
import {vaeParamShapes} from '../../src/models/vae/init.js'
import {loadVae} from '../../src/models/vae/load.js'
import {saveVae, trainVae} from '../../src/stages/dit/vae-train.js'
import {Rng} from '../../src/util/rng.js'

/** n images side x side: skin with a dark disc of random centre and radius, in [-1, 1]. */
function lesionImages(n: number, side: number): Float32Array[] {
  const rng = new Rng(11)
  return Array.from({length: n}, () => {
    const cx = side * (0.3 + 0.4 * rng.uniform()),
      cy = side * (0.3 + 0.4 * rng.uniform()),
      r = side * (0.1 + 0.2 * rng.uniform())
    const img = new Float32Array(side * side * 3)
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        const rgb = inside ? [-0.5, -0.7, -0.8] : [0.7, 0.4, 0.3]
        for (let c = 0; c < 3; c++) img[(y * side + x) * 3 + c] = rgb[c]
      }
    }
    return img
  })
}

describe('dit: the demo VAE (dit.vae.train)', function () {
  before(async () => {
    await useTestBackend()
  })
  process.env.MEDGEN_QUIET = '1'

  it('vaeParamShapes gives exactly the state_dict names and shapes of a diffusers AutoencoderKL (golden vae-tiny)', async () => {
    const dir = join(goldenDir, 'vae-tiny')
    const cfg = parseVaeConfig(await readJsonFile(join(dir, 'config.json')))
    const state = await readSafetensors(join(dir, 'weights.safetensors'))
    const shapes = vaeParamShapes(cfg)
    // the fixture may name the mid-block attention the modern way only; compare as a map
    const fixture = new Map([...state].map(([k, t]) => [k, t.shape]))
    expect([...shapes.keys()].sort()).to.deep.equal([...fixture.keys()].sort())
    for (const [k, s] of shapes) expect(s, k).to.deep.equal(fixture.get(k))
  })

  it('training lowers the L1 loss; the saved folder loads back and decodes the same', async () => {
    const side = 16
    const images = lesionImages(24, side)
    const base = {
      in_channels: 3,
      out_channels: 3,
      latent_channels: 4,
      block_out_channels: [8, 16],
      layers_per_block: 1,
      norm_num_groups: 4
    }
    const trained = await trainVae(images, side, base, {steps: 60, batchSize: 4, lr: 3e-3, klWeight: 1e-6, seed: 5})
    const h = trained.history
    const first = h.slice(0, 6).reduce((a, b) => a + b, 0) / 6
    const last = h.slice(-6).reduce((a, b) => a + b, 0) / 6
    expect(last, `loss ${first} -> ${last}`).to.be.lessThan(0.6 * first)
    expect(trained.config.scaling_factor).to.be.greaterThan(0).and.lessThan(1e3)

    const dir = tmpDir()
    await saveVae(dir, trained)
    const loaded = await loadVae(dir)
    expect(loaded.config).to.deep.equal(trained.config)
    const x = tf.tensor4d(Float32Array.from(images.slice(0, 2).flatMap(i => Array.from(i))), [2, side, side, 3])
    const decodeWith = (params: Map<string, tf.Tensor>): Float32Array =>
      tf.tidy(
        () =>
          vaeDecode({params}, trained.config, vaeEncode({params}, trained.config, x).mean).dataSync() as Float32Array
      )
    const a = decodeWith(trained.params)
    const b = decodeWith(loaded.params)
    let maxAbs = 0
    for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]))
    expect(maxAbs).to.be.lessThan(1e-5)
    // the reconstruction is closer to the input than the untrained VAE's mean-grey output would be
    const xs = x.dataSync()
    let err = 0
    for (let i = 0; i < a.length; i++) err += Math.abs(a[i] - xs[i])
    expect(err / a.length).to.be.lessThan(0.35)
    tf.dispose([x, ...trained.params.values(), ...loaded.params.values()])
  })
})
