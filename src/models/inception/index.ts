// Public surface of the FID Inception: architecture, weights, preprocessing, and a throughput
// probe for scripts/bench.ts (hash-filled weights; speed does not depend on the values).
import * as tf from '@tensorflow/tfjs'
export {inceptionForward, inceptionParamShapes, type InceptionWeights} from './inception.js'
export {loadInception, foldInceptionWeights, disposeInception} from './weights.js'
export {preprocessForInception, type ResizeMode} from './preprocess.js'
import {hashFill} from './fill.js'
import {inceptionForward, inceptionParamShapes} from './inception.js'
import {disposeInception, foldInceptionWeights} from './weights.js'

/** Images per second of pool3 extraction at 299x299 on the active backend. */
export async function benchmarkInception(batch = 8, reps = 2): Promise<number> {
  const weights = foldInceptionWeights(hashFill(inceptionParamShapes()), 'hashfill')
  const x = tf.randomUniform([batch, 299, 299, 3], -1, 1, 'float32', 1) as tf.Tensor4D
  const run = async () => {
    const {pool3} = inceptionForward(x, weights)
    await pool3.data()
    pool3.dispose()
  }
  await run() // warm-up
  const t0 = performance.now()
  for (let i = 0; i < reps; i++) await run()
  const seconds = (performance.now() - t0) / 1000
  tf.dispose(x)
  disposeInception(weights)
  return (batch * reps) / seconds
}
