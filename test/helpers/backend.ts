// Every test file that touches tfjs calls this first: one backend per mocha process,
// wasm by default (what users without tfjs-node get), MEDGEN_TEST_BACKEND=cpu to compare.
import {initBackend, type BackendName} from '../../src/backend/index.js'

export async function useTestBackend(): Promise<BackendName> {
  const wanted = (process.env.MEDGEN_TEST_BACKEND as BackendName | undefined) ?? 'wasm'
  return initBackend(wanted)
}
