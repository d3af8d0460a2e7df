// `medgen forward --arch inception-fid`: images [B,3,H,W] in [0,1] (NCHW, as pytorch-fid takes
// them) -> pool3 [B,2048], plus the fixture's intermediates with --option intermediates=1.
// --weights may be the real .pth/.safetensors or `hashfill` (golden/inception-fid's fill).
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import type {ForwardArch} from '../registry.js'
import type {TensorMap} from '../../io/tensor-map.js'
import {toFloat32} from '../../io/tensor-map.js'
import {hashFill} from './fill.js'
import {inceptionForward, inceptionParamShapes} from './inception.js'
import {disposeInception, foldInceptionWeights, loadInception} from './weights.js'
import {preprocessForInception, type ResizeMode} from './preprocess.js'

async function host(t: tf.Tensor): Promise<{dtype: 'F32'; shape: number[]; data: Float32Array}> {
  const data = new Float32Array((await t.data()) as Float32Array)
  return {dtype: 'F32', shape: t.shape.slice(), data}
}

export const inceptionFidArch: ForwardArch = {
  description: 'pytorch-fid InceptionV3 (FID variant): images [B,3,H,W] in [0,1] -> pool3 [B,2048]',
  async run(weightsPath, inputs, options) {
    const images = inputs.get('images')
    if (!images || images.shape.length !== 4 || images.shape[1] !== 3)
      throw new UserError('inputs: expected a tensor "images" of shape [B,3,H,W] with values in [0,1]')
    const weights =
      weightsPath === 'hashfill'
        ? foldInceptionWeights(hashFill(inceptionParamShapes()), 'hashfill')
        : (await loadInception(weightsPath)).weights
    const keep = options.intermediates === '1' || options.intermediates === 'true'
    const x = tf.tidy(() =>
      preprocessForInception(
        tf
          .tensor4d(toFloat32(images), images.shape as [number, number, number, number])
          .transpose([0, 2, 3, 1]) as tf.Tensor4D,
        (options.resize as ResizeMode) ?? 'bilinear'
      )
    )
    const out: TensorMap = new Map()
    const {pool3, blocks} = inceptionForward(x, weights, keep)
    out.set('pool3', await host(pool3))
    if (keep) {
      const toNchw = tf.tidy(() => x.transpose([0, 3, 1, 2]))
      out.set('inter.resized_normalized_input', await host(toNchw))
      toNchw.dispose()
      const names = ['block0', 'block1', 'block2', 'mixed_7c']
      for (let b = 0; b < blocks.length; b++) {
        const mean = tf.tidy(() => blocks[b].mean([1, 2]))
        const corner = tf.tidy(() => blocks[b].slice([0, 0, 0, 0], [-1, 8, 8, -1]).transpose([0, 3, 1, 2]))
        out.set(`inter.${names[b]}_channel_mean`, await host(mean))
        out.set(`inter.${names[b]}_corner8`, await host(corner))
        tf.dispose([mean, corner])
      }
    }
    tf.dispose([x, pool3, ...blocks])
    disposeInception(weights)
    return out
  }
}
