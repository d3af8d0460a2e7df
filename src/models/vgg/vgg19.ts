// The slice of torchvision's vgg19().features used by the perceptual loss (docs/REFERENCE.md §3.4):
// its first 12 modules, i.e. through relu3_1. torchvision numbers every module of the
// Sequential, so the convs keep their indices as state_dict names:
//   0 conv 3->64, 1 relu, 2 conv 64->64, 3 relu, 4 maxpool,
//   5 conv 64->128, 6 relu, 7 conv 128->128, 8 relu, 9 maxpool, 10 conv 128->256, 11 relu.
// Every conv is 3x3, stride 1, padding 1, with bias; every pool is MaxPool2d(2, 2) (floor mode).
// 555,328 parameters (docs/REFERENCE.md §9). Activations NHWC, filters HWIO (src/models/params.ts).
import * as tf from '@tensorflow/tfjs'

export type VggModule =
  | {kind: 'conv'; index: number; inChannels: number; outChannels: number}
  | {kind: 'relu'; index: number}
  | {kind: 'pool'; index: number}

function conv(index: number, inChannels: number, outChannels: number): VggModule {
  return {kind: 'conv', index, inChannels, outChannels}
}

/** torchvision vgg19().features[0:12] in order. */
export const VGG19_RELU3_1: readonly VggModule[] = [
  conv(0, 3, 64),
  {kind: 'relu', index: 1},
  conv(2, 64, 64),
  {kind: 'relu', index: 3},
  {kind: 'pool', index: 4},
  conv(5, 64, 128),
  {kind: 'relu', index: 6},
  conv(7, 128, 128),
  {kind: 'relu', index: 8},
  {kind: 'pool', index: 9},
  conv(10, 128, 256),
  {kind: 'relu', index: 11}
]

/** state_dict name -> shape in PyTorch layout (conv weight OIHW), in module order. */
export function vggParamShapes(modules: readonly VggModule[] = VGG19_RELU3_1): Map<string, number[]> {
  const shapes = new Map<string, number[]>()
  for (const m of modules) {
    if (m.kind !== 'conv') continue
    shapes.set(`features.${m.index}.weight`, [m.outChannels, m.inChannels, 3, 3])
    shapes.set(`features.${m.index}.bias`, [m.outChannels])
  }
  return shapes
}

/** Frozen weights keyed by state_dict name, tfjs layout (conv weight HWIO). */
export type VggWeights = Map<string, tf.Tensor>

/** features[0:12](x): x [B, H, W, 3] already ImageNet-normalised -> [B, floor(H/4), floor(W/4), 256]. */
export function vggFeatures(
  x: tf.Tensor4D,
  weights: VggWeights,
  modules: readonly VggModule[] = VGG19_RELU3_1
): tf.Tensor4D {
  return tf.tidy(() => {
    let h = x
    for (const m of modules) {
      if (m.kind === 'conv') {
        const filter = weights.get(`features.${m.index}.weight`) as tf.Tensor4D
        const bias = weights.get(`features.${m.index}.bias`) as tf.Tensor1D
        h = tf
          .conv2d(h, filter, 1, [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0]
          ])
          .add(bias)
      } else if (m.kind === 'relu') {
        h = tf.relu(h)
      } else {
        h = tf.maxPool(h, 2, 2, 'valid') // 'valid' floors odd sides, as MaxPool2d(2, 2) does
      }
    }
    return h
  })
}
