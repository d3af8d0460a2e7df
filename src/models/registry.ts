// Architectures that `medgen forward` can run, registered by name with a lazy import so
// `medgen --help` loads none of them. Each entry reads named inputs and returns named outputs
// with the PyTorch forward argument/output names used in test/fixtures/golden.
import type {TensorMap} from '../io/tensor-map.js'

export interface ForwardArch {
  description: string
  /** weights: a file or a Hugging Face/diffusers folder */
  run(weights: string, inputs: TensorMap, options: Record<string, string>): Promise<TensorMap>
}

type Loader = () => Promise<ForwardArch>

export const architectures: Record<string, Loader> = {
  // entries are added as each model lands, e.g.
  // pixart: async () => (await import('./pixart/forward.js')).pixartForward,
  bert: async () => (await import('./bert/forward.js')).bertArch,
  distilbert: async () => (await import('./bert/forward.js')).distilbertArch,
  'inception-fid': async () => (await import('./inception/forward.js')).inceptionFidArch,
  pixart: async () => (await import('./pixart/forward.js')).pixartForwardArch,
  vae: async () => (await import('./vae/forward.js')).vaeForwardArch
}
