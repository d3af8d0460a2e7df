// Rough memory a PixArt forward or LoRA training step needs at a given image size, for the "what
// fits" lines of `medgen check-weights` at sizes it did not run. Weights are held as float32 on
// every backend (fp16/bf16 files are widened on load). Activations follow the per-block figure of
// src/models/pixart/checkpoint.ts (fitted to bench-small), at the token count of the asked size.
import {innerDim, type PixArtConfig} from '../models/pixart/config.js'

export const GiB = 2 ** 30

/** Latent (or pixel) side the transformer sees for an image of `sizePx` (the SD VAE downsamples by 8). */
export function modelSide(cfg: PixArtConfig, sizePx: number): number {
  return cfg.in_channels === 4 ? sizePx / 8 : sizePx
}

export function tokensAt(cfg: PixArtConfig, sizePx: number): number {
  return (modelSide(cfg, sizePx) / cfg.patch_size) ** 2
}

/** Bytes one block keeps for the backward pass at this size and batch (checkpoint.ts blockActivationBytes per layer). */
export function blockTapeBytes(cfg: PixArtConfig, sizePx: number, batch: number): number {
  const tokens = tokensAt(cfg, sizePx)
  return 4 * batch * (40 * tokens * innerDim(cfg) + 4 * cfg.num_attention_heads * tokens * tokens)
}

export interface PixArtEstimate {
  weights: number
  activations: number
  total: number
}

/** A forward pass without a tape: weights plus about one block's intermediates alive at a time. */
export function pixartForwardBytes(cfg: PixArtConfig, parameters: number, sizePx: number, batch = 1): PixArtEstimate {
  const activations = blockTapeBytes(cfg, sizePx, batch)
  return {weights: 4 * parameters, activations, total: 4 * parameters + activations}
}

/**
 * A LoRA step: weights, plus every block's tape (no checkpointing) or each block's input and
 * two blocks' tapes (checkpointed: one recomputed block and its gradients at a time).
 */
export function pixartLoraStepBytes(
  cfg: PixArtConfig,
  parameters: number,
  sizePx: number,
  checkpoint: boolean,
  batch = 1
): PixArtEstimate {
  const perBlock = blockTapeBytes(cfg, sizePx, batch)
  const inputs = 4 * batch * tokensAt(cfg, sizePx) * innerDim(cfg) * cfg.num_layers
  const activations = checkpoint ? inputs + 2 * perBlock : cfg.num_layers * perBlock
  return {weights: 4 * parameters, activations, total: 4 * parameters + activations}
}

export function gb(bytes: number): string {
  return `${(bytes / GiB).toFixed(bytes < 10 * GiB ? 2 : 1)} GB`
}
