// Loads the VGG-19 relu3_1 slice from torchvision's vgg19-dcbb9e9d.pth (a legacy torch.save
// pickle), any torch.save zip, or a safetensors file. Accepted layouts: the full vgg19 state_dict
// (classifier.* and features beyond index 10 are never read from disk), a `features.*` only
// file, a `module.`-wrapped one, and vgg19().features.state_dict() (bare `0.weight`, ...).
import * as tf from '@tensorflow/tfjs'
import {UserError} from '../../errors.js'
import {sha256File} from '../../io/atomic.js'
import {toFloat32, type TensorMap} from '../../io/tensor-map.js'
import {loadStateDict, resolveWeightsFile} from '../../io/weights.js'
import {torchToTf} from '../params.js'
import {vggParamShapes, type VggWeights} from './vgg19.js'

export interface LoadedVgg {
  weights: VggWeights
  path: string
  sha256: string
}

const EXPECTED = 'VGG-19 features (torchvision vgg19-dcbb9e9d.pth)'

/** Checks every name and shape of the slice (listing all that are missing or wrong), then converts to tfjs layout. */
export function vggWeightsFrom(state: TensorMap, source: string): VggWeights {
  const shapes = vggParamShapes()
  const missing = [...shapes.keys()].filter(k => !state.has(k))
  if (missing.length)
    throw new UserError(`${source}: missing ${missing.join(', ')}; not a torchvision VGG-19 checkpoint (${EXPECTED})`)
  const wrong = [...shapes]
    .filter(([k, shape]) => state.get(k)!.shape.join(',') !== shape.join(','))
    .map(([k, shape]) => `${k} is [${state.get(k)!.shape}], expected [${shape}]`)
  if (wrong.length) throw new UserError(`${source}: wrong shapes: ${wrong.join('; ')} (${EXPECTED})`)
  const weights: VggWeights = new Map()
  for (const [name, shape] of shapes) {
    const host = state.get(name)!
    // the tidy frees torchToTf's untransposed copy
    weights.set(
      name,
      tf.tidy(() => torchToTf({...host, data: toFloat32(host)}, shape.length === 4 ? 'conv' : 'plain'))
    )
  }
  return weights
}

/** Reads and checks the slice; `sha256` identifies the file in stage manifests. */
export async function loadVgg19Features(path: string): Promise<LoadedVgg> {
  const file = await resolveWeightsFile(path, EXPECTED)
  const wanted = new Set([...vggParamShapes().keys()].map(k => k.slice('features.'.length)))
  let state: TensorMap
  try {
    state = await loadStateDict(file, {
      stripPrefixes: ['module.features.', 'features.'],
      legacyLayerNormNames: false,
      expected: EXPECTED,
      include: name => wanted.has(name)
    })
  } catch (err) {
    // no tensor of the slice at all: say which names were looked for
    if (err instanceof UserError && /no tensors left/.test(err.message))
      throw new UserError(
        `${file}: missing ${[...vggParamShapes().keys()].join(', ')}; not a torchvision VGG-19 checkpoint (${EXPECTED})`
      )
    throw err
  }
  const named: TensorMap = new Map([...state].map(([k, v]) => [`features.${k}`, v]))
  return {weights: vggWeightsFrom(named, file), path: file, sha256: await sha256File(file)}
}

export function disposeVgg(weights: VggWeights): void {
  for (const t of weights.values()) t.dispose()
}
