// Training speed of a small conv net on the wasm backend (with medgen's gradient kernels) vs the
// pure-JS cpu backend. Run: node --import tsx scripts/experiments/bench-wasm-conv.ts [steps]
import * as tf from '@tensorflow/tfjs'
import {initBackend} from '../../src/backend/index.js'
import {registerCpuKernelFixes} from '../../src/backend/wasm-kernels.js'
import {Rng} from '../../src/util/rng.js'

const steps = Number(process.argv[2] ?? 5)
const [B, S, C] = [4, 16, 16] // batch, image size, base channels: small enough for the cpu backend
await initBackend('wasm')
registerCpuKernelFixes()

async function timeTraining(backend: string): Promise<{msPerStep: number; loss: number}> {
  await tf.setBackend(backend)
  const rng = new Rng(1)
  const x = tf.tensor4d(rng.normalArray(B * S * S * 3), [B, S, S, 3])
  const target = tf.tensor4d(rng.normalArray(B * S * S * 3, 0.5), [B, S, S, 3])
  const v = (shape: number[]) =>
    tf.variable(
      tf.tensor(
        rng.normalArray(
          shape.reduce((a, b) => a * b, 1),
          Math.sqrt(2 / (shape[0] * shape[1] * shape[2]))
        ),
        shape
      )
    )
  const w = [v([3, 3, 3, C]), v([3, 3, C, C]), v([3, 3, C, 2 * C]), v([3, 3, 3 * C, C]), v([3, 3, C, 3])]
  const opt = tf.train.adam(1e-3)
  const step = () =>
    opt.minimize(() => {
      const e1 = tf.relu(
        tf.conv2d(tf.relu(tf.conv2d(x, w[0] as tf.Tensor4D, 1, 'same')), w[1] as tf.Tensor4D, 1, 'same')
      )
      const mid = tf.relu(tf.conv2d(tf.maxPool(e1, 2, 2, 'valid'), w[2] as tf.Tensor4D, 1, 'same'))
      const up = tf.concat([tf.image.resizeNearestNeighbor(mid, [S, S]), e1], 3)
      const y = tf.conv2d(
        tf.relu(tf.conv2d(up as tf.Tensor4D, w[3] as tf.Tensor4D, 1, 'same')),
        w[4] as tf.Tensor4D,
        1,
        'same'
      )
      return tf.mean(tf.square(tf.sub(y, target)))
    }, true) as tf.Scalar
  step().dispose() // warm-up
  const t0 = performance.now()
  let loss = 0
  for (let i = 0; i < steps; i++) {
    const l = step()
    loss = l.dataSync()[0]
    l.dispose()
  }
  const msPerStep = (performance.now() - t0) / steps
  opt.dispose()
  tf.dispose([x, target, ...w])
  return {msPerStep, loss}
}

console.log(`U-Net-like conv net, batch ${B}x${S}x${S}x3, base channels ${C}, ${steps} Adam steps`)
const wasm = await timeTraining('wasm')
console.log(`wasm: ${wasm.msPerStep.toFixed(1)} ms/step (loss ${wasm.loss.toFixed(4)})`)
const cpu = await timeTraining('cpu')
console.log(`cpu:  ${cpu.msPerStep.toFixed(1)} ms/step (loss ${cpu.loss.toFixed(4)})`)
console.log(`speed-up wasm/cpu: ${(cpu.msPerStep / wasm.msPerStep).toFixed(1)}x`)

// Per-kernel times on wasm for one U-Net-sized layer: forward conv vs the two gradient kernels.
await tf.setBackend('wasm')
{
  const [b, s, c] = [8, 64, 32]
  const x = tf.randomNormal([b, s, s, c], 0, 1, 'float32', 1) as tf.Tensor4D
  const dy = tf.randomNormal([b, s, s, c], 0, 1, 'float32', 2) as tf.Tensor4D
  const w = tf.randomNormal([3, 3, c, c], 0, 1, 'float32', 3) as tf.Tensor4D
  const time = (f: () => tf.Tensor) => {
    f().dispose()
    const t0 = performance.now()
    for (let i = 0; i < 3; i++) {
      const r = f()
      r.dataSync()
      r.dispose()
    }
    return (performance.now() - t0) / 3
  }
  const fwd = time(() => tf.conv2d(x, w, 1, 'same'))
  const dx = time(() => tf.conv2dTranspose(dy, w, [b, s, s, c], 1, 'same'))
  const dw = time(
    () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          {x, dy},
          {strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, c, c]}
        ) as tf.Tensor
  )
  console.log(
    `wasm, x [${b},${s},${s},${c}], 3x3x${c}x${c}: conv ${fwd.toFixed(0)} ms, input gradient ${dx.toFixed(0)} ms, filter gradient ${dw.toFixed(0)} ms`
  )
  tf.dispose([x, dy, w])
}
