// Parity with test/fixtures/golden/inception-fid: pytorch-fid InceptionV3 (FID variant) with the
// fixture's closed-form hash-filled weights, rebuilt here through medgen's own loader.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import * as tf from '@tensorflow/tfjs'
import {useTestBackend} from '../helpers/backend.js'
import {goldenDir, compareArrays, tmpDir} from '../helpers/tmp.js'
import {readSafetensors, writeSafetensors} from '../../src/io/safetensors.js'
import {hashFill} from '../../src/models/inception/fill.js'
import {inceptionForward, inceptionParamShapes} from '../../src/models/inception/inception.js'
import {foldInceptionWeights, loadInception, disposeInception} from '../../src/models/inception/weights.js'
import {preprocessForInception} from '../../src/models/inception/preprocess.js'

const dir = join(goldenDir, 'inception-fid')
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
const {atol, rtol} = config.tolerance_float32

/** NCHW host data of a [B,C,H,W] NHWC tensor's first 8x8 corner. */
async function corner8(t: tf.Tensor4D): Promise<Float32Array> {
  const c = tf.tidy(() => t.slice([0, 0, 0, 0], [t.shape[0], 8, 8, t.shape[3]]).transpose([0, 3, 1, 2]))
  const data = (await c.data()) as Float32Array
  c.dispose()
  return data
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, a = atol, r = rtol): void {
  const cmp = compareArrays(actual, expected, a, r)
  expect(cmp.ok, `${what}: max abs diff ${cmp.maxAbs} (first violation at ${cmp.worstIndex})`).to.equal(true)
}

describe('models/inception (golden/inception-fid)', function () {
  this.timeout(300000)
  // On the plain-JS cpu backend (npm run test:cpu, the stand-in for tfjs-node) the full network
  // takes minutes on 2 cores: there the pool3 test checks the first block (convs, BN fold, max pool).
  let stages = 4
  before(async () => {
    stages = (await useTestBackend()) === 'cpu' ? 1 : 4
  })

  it('the architecture lists exactly the checkpoint keys and shapes of the real .pth', () => {
    const ours = inceptionParamShapes()
    expect(ours.map(([k]) => k)).to.deep.equal(config.checkpoint_keys)
    for (const [k, s] of ours) expect(s, k).to.deep.equal(config.checkpoint_shapes[k])
  })

  it('the hash fill reproduces weights_spotcheck exactly', async () => {
    const filled = hashFill(inceptionParamShapes())
    const spot = await readSafetensors(join(dir, 'weights_spotcheck.safetensors'))
    for (const [name, t] of spot)
      expectClose(filled.get(name)!.data as Float32Array, t.data as Float32Array, name, 0, 0)
  })

  it('pool3 and the stage intermediates match pytorch-fid, weights read through the safetensors loader', async () => {
    // Write the filled weights in PyTorch layout and load them the way a user's file is loaded.
    const path = join(tmpDir(), 'inception-hashfill.safetensors')
    await writeSafetensors(path, hashFill(inceptionParamShapes()))
    const {weights, sha256} = await loadInception(path)
    expect(sha256).to.match(/^[0-9a-f]{64}$/)
    const inputs = await readSafetensors(join(dir, 'inputs.safetensors'))
    const outputs = await readSafetensors(join(dir, 'outputs.safetensors'))
    const img = inputs.get('images')!
    const nhwc = tf.tidy(
      () =>
        tf
          .tensor4d(img.data as Float32Array, img.shape as [number, number, number, number])
          .transpose([0, 2, 3, 1]) as tf.Tensor4D
    )
    const x = preprocessForInception(nhwc)
    const resized = tf.tidy(() => x.transpose([0, 3, 1, 2]))
    expectClose(
      await resized.data(),
      outputs.get('inter.resized_normalized_input')!.data as Float32Array,
      'resized input',
      1e-5,
      1e-5
    )
    resized.dispose()
    const {pool3, blocks} = inceptionForward(x, weights, true, stages)
    const names = ['block0', 'block1', 'block2', 'mixed_7c']
    for (let b = 0; b < stages; b++) {
      const mean = tf.tidy(() => blocks[b].mean([1, 2]))
      expectClose(
        await mean.data(),
        outputs.get(`inter.${names[b]}_channel_mean`)!.data as Float32Array,
        `${names[b]} channel mean`
      )
      expectClose(
        await corner8(blocks[b]),
        outputs.get(`inter.${names[b]}_corner8`)!.data as Float32Array,
        `${names[b]} corner8`
      )
      mean.dispose()
    }
    if (stages < 4) {
      tf.dispose([nhwc, x, pool3, ...blocks])
      disposeInception(weights)
      return
    }
    const got = await pool3.data()
    const want = outputs.get('pool3')!.data as Float32Array
    expectClose(got, want, 'pool3')
    const cmp = compareArrays(got, want, 0, 0)
    console.log(
      `      pool3 max abs diff ${cmp.maxAbs.toExponential(2)} (|pool3| <= ${config.output_stats.pool3.absmax.toFixed(2)})`
    )
    tf.dispose([nhwc, x, pool3, ...blocks])
    disposeInception(weights)
  })

  it('the loader names the first missing or misshaped tensor', () => {
    const filled = hashFill(inceptionParamShapes())
    filled.delete('Mixed_6c.branch7x7dbl_3.bn.running_var')
    expect(() => foldInceptionWeights(filled, 'x.pth')).to.throw(
      /x\.pth: missing tensor Mixed_6c\.branch7x7dbl_3\.bn\.running_var/
    )
    const again = hashFill(inceptionParamShapes())
    again.set('Conv2d_1a_3x3.conv.weight', {dtype: 'F32', shape: [32, 3, 5, 5], data: new Float32Array(32 * 75)})
    expect(() => foldInceptionWeights(again, 'y.safetensors')).to.throw(
      /Conv2d_1a_3x3\.conv\.weight has shape \[32,3,5,5\], expected \[32,3,3,3\]/
    )
  })
})
