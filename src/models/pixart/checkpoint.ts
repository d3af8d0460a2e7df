// Gradient checkpointing for PixArt blocks (docs/REFERENCE.md §5.4: the authors train with it on;
// docs/DESIGN.md "Tensors and backends": recomputation via tf.customGrad where memory needs it).
// Without it, tfjs keeps every intermediate of every block on the tape until the backward pass
// ends, plus every intermediate gradient (its backprop frees neither early): bench-small at
// batch 8 needed more than the 4 GB wasm heap. A checkpointed block keeps only its inputs; its
// backward pass recomputes the block's forward on a tape of its own and frees it at once, so the
// peak is one block's activations instead of all of them, for one extra forward per step.
import * as tf from '@tensorflow/tfjs'
import {innerDim, type PixArtConfig} from './config.js'
import type {Weights} from '../layers.js'

/** A transformer block as the forward pass calls it: weights, tokens, modulation, context, key bias. */
export type BlockFn = (
  w: Weights,
  x: tf.Tensor3D,
  t6: tf.Tensor2D,
  ctx: tf.Tensor3D,
  bias: tf.Tensor | null
) => tf.Tensor3D

/**
 * Rough bytes a training step keeps on the tape for the blocks at this batch size, without
 * checkpointing: per token ~40 values of width D (norms, modulation, q/k/v, FFN at 4D and its
 * activation) and per head ~4 values of every token pair (scores, probabilities, their
 * gradients). Fitted to bench-small (28 MB per image per block measured at batch 4).
 */
export function blockActivationBytes(cfg: PixArtConfig, batch: number): number {
  const tokens = (cfg.sample_size / cfg.patch_size) ** 2
  return 4 * batch * cfg.num_layers * (40 * tokens * innerDim(cfg) + 4 * cfg.num_attention_heads * tokens * tokens)
}

/** `auto` turns checkpointing on above this (the wasm heap is 4 GB and the backward pass about doubles the peak). */
export const CHECKPOINT_AUTO_BYTES = 2 ** 30

export function useCheckpointing(mode: 'auto' | 'on' | 'off', cfg: PixArtConfig, batch: number): boolean {
  return mode === 'on' || (mode === 'auto' && blockActivationBytes(cfg, batch) > CHECKPOINT_AUTO_BYTES)
}

/** Is this tensor trained (a trainable tf.Variable)? Frozen weights get no gradient. */
function isTrained(t: tf.Tensor): boolean {
  return t instanceof tf.Variable && t.trainable
}

/**
 * Gradients of run(inputs) for upstream dy, on a tape of their own. tfjs's engine starts a fresh
 * tape for a gradient taken while no tape is recording, which is the case inside another
 * gradient's backward pass, and sets the shared slot to null when done; the outer backward pass
 * then needs its own tape back to free its saved tensors (tfjs-core engine.gradients).
 */
function recomputeGradients(run: (inputs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const state = (tf.engine() as unknown as {state: {activeTape: unknown}}).state
  const outerTape = state.activeTape
  try {
    return tf.grads((...recomputed: tf.Tensor[]) => run(recomputed))(inputs, dy)
  } finally {
    state.activeTape = outerTape
  }
}

/**
 * `block` with recomputation: same value and same gradients (to float rounding) for x, t6, ctx
 * and every trainable parameter the block reads (those named under `prefix`, e.g.
 * `transformer_blocks.3.`, and the LoRA adapters there).
 */
export function checkpointed(block: BlockFn, prefix: string): BlockFn {
  return (w, x, t6, ctx, bias) => recomputedBlock(block, prefix, w, x, t6, ctx, bias)
}

function recomputedBlock(
  block: BlockFn,
  prefix: string,
  w: Weights,
  x: tf.Tensor3D,
  t6: tf.Tensor2D,
  ctx: tf.Tensor3D,
  bias: tf.Tensor | null
): tf.Tensor3D {
  const paramNames = [...w.params.keys()].filter(name => name.startsWith(prefix) && isTrained(w.params.get(name)!))
  const adapterSlots: Array<{path: string; part: 'A' | 'B'}> = []
  for (const [path, adapter] of w.lora?.adapters ?? []) {
    if (!path.startsWith(prefix)) continue
    if (isTrained(adapter.A)) adapterSlots.push({path, part: 'A'})
    if (isTrained(adapter.B)) adapterSlots.push({path, part: 'B'})
  }
  const trained = [
    ...paramNames.map(name => w.params.get(name)!),
    ...adapterSlots.map(({path, part}) => w.lora!.adapters.get(path)![part])
  ]

  /** The block on substitute tensors for x, t6, ctx and the trained parameters. */
  // bias (from the key mask) is an input too, so the tape saves it: a closure would see it
  // disposed by the time the backward pass recomputes
  const lead = bias ? 4 : 3
  const run = (inputs: tf.Tensor[]): tf.Tensor3D => {
    const [xi, ti, ci] = inputs
    const biasInput = bias ? inputs[3] : null
    const weights = inputs.slice(lead)
    const params = new Map(w.params)
    paramNames.forEach((name, k) => params.set(name, weights[k]))
    let lora = w.lora ?? null
    if (lora && adapterSlots.length > 0) {
      const adapters = new Map(lora.adapters)
      adapterSlots.forEach(({path, part}, k) =>
        adapters.set(path, {...adapters.get(path)!, [part]: weights[paramNames.length + k]})
      )
      lora = {...lora, adapters}
    }
    return block({params, lora}, xi as tf.Tensor3D, ti as tf.Tensor2D, ci as tf.Tensor3D, biasInput)
  }

  const recomputed = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc
    const inputs = args as tf.Tensor[]
    save(inputs)
    return {
      value: tf.tidy(() => run(inputs)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => recomputeGradients(run, saved, dy)
    }
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...inputs: tf.Tensor[]) => tf.Tensor3D
  return bias ? recomputed(x, t6, ctx, bias, ...trained) : recomputed(x, t6, ctx, ...trained)
}
