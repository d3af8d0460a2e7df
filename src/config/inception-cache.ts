// pytorch-fid downloads its Inception weights into torch's hub cache; a user who has run it once
// has them. When weights.inception is unset, that cached file is used (never downloaded here).
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import type {MedgenConfig} from './schema.js'

export const PYTORCH_FID_WEIGHTS = 'pt_inception-2015-12-05-6726825d.pth'

/** $TORCH_HOME/hub/checkpoints, else $XDG_CACHE_HOME/torch/..., else ~/.cache/torch/... (torch.hub's rule). */
export function torchHubCheckpoints(env: NodeJS.ProcessEnv = process.env): string {
  const torchHome = env.TORCH_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'torch')
  return join(torchHome, 'hub', 'checkpoints')
}

export function withCachedInception(config: MedgenConfig, env: NodeJS.ProcessEnv = process.env): MedgenConfig {
  if (config.weights.inception) return config
  const cached = join(torchHubCheckpoints(env), PYTORCH_FID_WEIGHTS)
  return existsSync(cached) ? {...config, weights: {...config.weights, inception: cached}} : config
}
