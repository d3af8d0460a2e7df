// Classifier presets for `medgen classify` and eval's dfd, and their parameter maps.
// Initialisation follows PyTorch's defaults in spirit (Kaiming for convs/linears, zero biases,
// BN gamma 1 beta 0), seeded from the run's Rng so a seed fully defines a run.
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import type {TensorMap} from '../../io/tensor-map.js'
import type {ParamKind} from '../params.js'
import {Rng} from '../../util/rng.js'
import {smallCnn} from './small-cnn.js'
import {resnet18} from './resnet18.js'
import type {ClassifierNet} from './types.js'

export type ClassifierPreset = 'small-cnn' | 'resnet18'
export const classifierPresets: Record<ClassifierPreset, ClassifierNet> = {'small-cnn': smallCnn, resnet18}

/** tfjs variable names must be unique per process */
let instances = 0

export interface ClassifierModel {
  preset: ClassifierPreset
  net: ClassifierNet
  numClasses: number
  /** trainable parameters, tfjs layout, PyTorch names */
  params: Map<string, tf.Variable>
  /** BatchNorm running statistics (not trained by the optimizer) */
  buffers: Map<string, tf.Variable>
  /** per-channel input standardisation (x - mean) / std, fixed from the training set; absent = raw [0,1] input */
  inputNorm?: InputNorm
}

export interface InputNorm {
  mean: [number, number, number]
  std: [number, number, number]
}

/**
 * Per-channel mean and std of NHWC images in [0,1]. Why: the lesion colours that tell the
 * classes apart differ by ~0.1 on a skin background near (0.8, 0.6, 0.5); without BatchNorm
 * the small CNN did not move off ln(7) in 184 steps on raw input, and does once standardised
 * (docs/RESULTS.md, classify).
 */
export function channelStats(images: Float32Array): InputNorm {
  const sum = [0, 0, 0],
    sq = [0, 0, 0]
  for (let i = 0; i < images.length; i++) {
    sum[i % 3] += images[i]
    sq[i % 3] += images[i] * images[i]
  }
  const n = Math.max(1, images.length / 3)
  const mean = sum.map(s => s / n) as InputNorm['mean']
  const std = sq.map((q, c) => Math.max(1e-3, Math.sqrt(Math.max(0, q / n - mean[c] ** 2)))) as InputNorm['std']
  return {mean, std}
}

export function createClassifier(preset: ClassifierPreset, numClasses: number, rng: Rng): ClassifierModel {
  const net = classifierPresets[preset]
  if (!net)
    throw new UserError(`classify.preset ${preset}: unknown; use one of ${Object.keys(classifierPresets).join(', ')}`)
  const params = new Map<string, tf.Variable>()
  for (const s of net.shapes(numClasses)) {
    const n = s.shape.reduce((a, b) => a * b, 1)
    let data: Float32Array
    if (s.kind === 'conv' || s.kind === 'linear')
      data = rng.normalArray(n, Math.sqrt(2 / s.fanIn) * (s.kind === 'linear' ? 0.5 : 1))
    else if (s.kind === 'bn-weight') data = new Float32Array(n).fill(1)
    else data = new Float32Array(n)
    params.set(s.name, tf.variable(tf.tensor(data, s.shape), true, `classifier${++instances}/${s.name}`))
  }
  const buffers = new Map<string, tf.Variable>()
  for (const b of net.buffers()) {
    buffers.set(b.name, tf.variable(b.init ? tf.ones(b.shape) : tf.zeros(b.shape), false))
  }
  return {preset, net, numClasses, params, buffers}
}

/** Forward in eval or training mode; in training mode BN running stats are updated in place. */
export function classifierForward(
  m: ClassifierModel,
  x: tf.Tensor4D,
  training: boolean
): {logits: tf.Tensor2D; features: tf.Tensor2D} {
  const lookup = (name: string): tf.Tensor => {
    const t = m.params.get(name) ?? m.buffers.get(name)
    if (!t) throw new Error(`classifier has no parameter ${name}`)
    return t
  }
  // callers run inside tf.tidy / tf.variableGrads, which free the standardised copy
  const input = m.inputNorm
    ? (x.sub(tf.tensor1d(m.inputNorm.mean)).div(tf.tensor1d(m.inputNorm.std)) as tf.Tensor4D)
    : x
  const {logits, features, bufferUpdates} = m.net.forward(lookup, input, training)
  if (bufferUpdates) for (const [name, value] of bufferUpdates) m.buffers.get(name)!.assign(value)
  return {logits, features}
}

export function classifierKind(name: string, shape: readonly number[]): ParamKind {
  if (shape.length === 4) return 'conv'
  if (shape.length === 2 && name.endsWith('weight')) return 'linear'
  return 'plain'
}

export function disposeClassifier(m: ClassifierModel): void {
  for (const t of [...m.params.values(), ...m.buffers.values()]) t.dispose()
}

/** Loads a state_dict (PyTorch layout) into a fresh model; names the first missing/misshaped tensor. */
export function loadClassifierState(
  preset: ClassifierPreset,
  numClasses: number,
  state: TensorMap,
  source: string,
  torchLayout = true
): ClassifierModel {
  const m = createClassifier(preset, numClasses, new Rng(0))
  for (const [name, v] of [...m.params, ...m.buffers]) {
    const t = state.get(name)
    if (!t) {
      disposeClassifier(m)
      throw new UserError(`${source}: missing tensor ${name} for classifier preset ${preset}`)
    }
    const kind = torchLayout ? classifierKind(name, t.shape) : 'plain'
    const value = tf.tidy(() => {
      const raw = tf.tensor(t.data as Float32Array, t.shape, 'float32')
      return kind === 'conv' ? raw.transpose([2, 3, 1, 0]) : kind === 'linear' ? raw.transpose([1, 0]) : raw
    })
    if (value.shape.join(',') !== v.shape.join(',')) {
      value.dispose()
      disposeClassifier(m)
      throw new UserError(
        `${source}: tensor ${name} has shape [${t.shape}], which does not fit preset ${preset} with ${numClasses} classes`
      )
    }
    v.assign(value)
    value.dispose()
  }
  return m
}
