// SDNet's perceptual term (docs/REFERENCE.md §3.4; code only, not in the paper's Eq. 1): L1 between
// frozen ImageNet VGG-19 relu3_1 features of the reconstruction and of the input. Images in
// [-1, 1] are mapped to [0, 1] and normalised with the ImageNet mean/std first. The VGG weights
// are plain tensors, never variables, so no optimiser can see them; the input branch has no
// trainable ancestor, so gradients reach the model through the reconstruction only.
import * as tf from '@tensorflow/tfjs'
import {l1Loss} from './basic.js'
import {vggFeatures, type VggWeights} from '../models/vgg/vgg19.js'
import {disposeVgg, loadVgg19Features} from '../models/vgg/weights.js'

const IMAGENET_MEAN = [0.485, 0.456, 0.406]
const IMAGENET_STD = [0.229, 0.224, 0.225]

export class PerceptualLoss {
  private readonly mean = tf.tensor1d(IMAGENET_MEAN)
  private readonly std = tf.tensor1d(IMAGENET_STD)

  /** `source`: the weights file and its sha256, for manifests and metrics. */
  constructor(
    readonly weights: VggWeights,
    readonly source: {path: string; sha256: string}
  ) {}

  static async load(path: string): Promise<PerceptualLoss> {
    const {weights, path: file, sha256} = await loadVgg19Features(path)
    return new PerceptualLoss(weights, {path: file, sha256})
  }

  /** relu3_1 features of images in [-1, 1], NHWC with 3 channels. */
  features(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => vggFeatures(images.add(1).div(2).sub(this.mean).div(this.std) as tf.Tensor4D, this.weights))
  }

  /** mean |vgg(reco) - vgg(x)| over every feature element (torch nn.L1Loss). */
  loss(reco: tf.Tensor4D, x: tf.Tensor4D): tf.Scalar {
    return tf.tidy(() => l1Loss(this.features(reco), this.features(x)))
  }

  dispose(): void {
    disposeVgg(this.weights)
    this.mean.dispose()
    this.std.dispose()
  }
}
