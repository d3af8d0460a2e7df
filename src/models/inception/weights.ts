// Loads pt_inception-2015-12-05-6726825d.pth (PyTorch zip checkpoint) or a safetensors
// conversion with the same torchvision keys, checks every key and shape the network needs, and
// folds the eval-mode BatchNorm (eps 1e-3) into each conv: y = conv(x, w·s) + (beta - mean·s),
// s = gamma / sqrt(var + eps). Folding is done in float64 before rounding to float32.
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {readSafetensors} from '../../io/safetensors.js'
import {toFloat32, type TensorMap} from '../../io/tensor-map.js'
import {sha256File} from '../../io/atomic.js'
import {inceptionConvs, inceptionParamShapes, type InceptionWeights} from './inception.js'

const bnEps = 1e-3

/** Reads a checkpoint file into host tensors, by extension. */
export async function readCheckpoint(path: string): Promise<TensorMap> {
  if (/\.safetensors$/i.test(path)) return readSafetensors(path)
  if (/\.(pth|pt|bin|ckpt)$/i.test(path)) {
    const torch = await import('../../io/torch.js')
    return torch.readTorchCheckpoint(path)
  }
  throw new UserError(`${path}: unknown weights format; expected .pth (PyTorch) or .safetensors`)
}

/** Strips wrappers some conversions add (`module.`, pytorch-fid's `blocks.`-free layout is the norm). */
function normaliseKeys(raw: TensorMap): TensorMap {
  const out: TensorMap = new Map()
  for (const [k, v] of raw) out.set(k.replace(/^module\./, ''), v)
  return out
}

/** Checks names/shapes against the architecture and folds BN; throws a UserError naming the first problem. */
export function foldInceptionWeights(raw: TensorMap, source: string): InceptionWeights {
  const state = normaliseKeys(raw)
  // Check every key and shape first, so a bad file allocates nothing.
  for (const [key, shape] of inceptionParamShapes()) {
    if (key.startsWith('fc.')) continue // the classifier head is not needed for pool3
    const t = state.get(key)
    if (!t)
      throw new UserError(`${source}: missing tensor ${key}; not a torchvision/pytorch-fid Inception v3 checkpoint`)
    if (t.shape.join(',') !== shape.join(','))
      throw new UserError(`${source}: tensor ${key} has shape [${t.shape}], expected [${shape}]`)
  }
  const out: InceptionWeights = new Map()
  for (const spec of inceptionConvs()) {
    const get = (suffix: string, _shape: number[]) => toFloat32(state.get(`${spec.name}.${suffix}`)!)
    const w = get('conv.weight', [spec.outCh, spec.inCh, spec.kh, spec.kw])
    const gamma = get('bn.weight', [spec.outCh]),
      beta = get('bn.bias', [spec.outCh])
    const mean = get('bn.running_mean', [spec.outCh]),
      variance = get('bn.running_var', [spec.outCh])
    // OIHW -> HWIO with the BN scale folded in.
    const {outCh: O, inCh: I, kh: H, kw: W} = spec
    const hwio = new Float32Array(O * I * H * W)
    const bias = new Float32Array(O)
    for (let o = 0; o < O; o++) {
      const s = gamma[o] / Math.sqrt(variance[o] + bnEps)
      bias[o] = beta[o] - mean[o] * s
      for (let i = 0; i < I; i++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            hwio[((y * W + x) * I + i) * O + o] = w[((o * I + i) * H + y) * W + x] * s
          }
    }
    out.set(spec.name, {filter: tf.tensor4d(hwio, [H, W, I, O]), bias: tf.tensor1d(bias)})
  }
  return out
}

export interface LoadedInception {
  weights: InceptionWeights
  sha256: string
  path: string
}

export async function loadInception(path: string): Promise<LoadedInception> {
  if (!path)
    throw new UserError(
      'needs weights.inception: set it to pt_inception-2015-12-05-6726825d.pth or its safetensors conversion'
    )
  const raw = await readCheckpoint(path)
  return {weights: foldInceptionWeights(raw, path), sha256: await sha256File(path), path}
}

export function disposeInception(w: InceptionWeights): void {
  for (const p of w.values()) {
    p.filter.dispose()
    p.bias.dispose()
  }
}
