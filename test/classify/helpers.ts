// Tiny labelled image sets for classifier tests: class 0 = bright disc, class 1 = dark square,
// class 2 = horizontal stripes, with seeded noise, so a small CNN can learn them in seconds.
import {Rng} from '../../src/util/rng.js'
import type {LabeledSet} from '../../src/stages/classify/batches.js'

export function toySet(n: number, size: number, seed: number, numClasses = 3): LabeledSet {
  const rng = new Rng(seed)
  const px = size * size * 3
  const images = new Float32Array(n * px)
  const labels = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const c = i % numClasses
    labels[i] = c
    const cx = size / 2 + rng.range(-2, 2),
      cy = size / 2 + rng.range(-2, 2),
      r = size * rng.range(0.2, 0.3)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        let v = 0.5
        if (c === 0 && Math.hypot(x - cx, y - cy) < r) v = 0.9
        if (c === 1 && Math.abs(x - cx) < r && Math.abs(y - cy) < r) v = 0.1
        if (c === 2) v = Math.floor(y / 2) % 2 ? 0.8 : 0.2
        for (let ch = 0; ch < 3; ch++)
          images[i * px + (y * size + x) * 3 + ch] = Math.min(1, Math.max(0, v + 0.08 * rng.normal()))
      }
  }
  return {images, size, labels, ids: Array.from({length: n}, (_, i) => `toy-${seed}-${i}`)}
}

/**
 * Imbalanced toy set like the demo's dermoscopy: a skin-coloured background near (0.8, 0.6, 0.5)
 * and a central disc whose colour differs from class to class by only ~0.1 per channel.
 * `counts[c]` images of class c.
 */
export function subtleImbalancedSet(counts: number[], size: number, seed: number): LabeledSet {
  const discs = [
    [0.7, 0.5, 0.45],
    [0.55, 0.35, 0.3],
    [0.75, 0.45, 0.55]
  ]
  const rng = new Rng(seed)
  const n = counts.reduce((a, b) => a + b, 0)
  const px = size * size * 3
  const images = new Float32Array(n * px)
  const labels = new Int32Array(n)
  let i = 0
  counts.forEach((count, c) => {
    for (let k = 0; k < count; k++, i++) {
      labels[i] = c
      const cx = size / 2 + rng.range(-1, 1),
        cy = size / 2 + rng.range(-1, 1),
        r = size * rng.range(0.2, 0.3)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const inside = Math.hypot(x - cx, y - cy) < r
          for (let ch = 0; ch < 3; ch++) {
            const v = inside ? discs[c][ch] : [0.8, 0.6, 0.5][ch]
            images[i * px + (y * size + x) * 3 + ch] = Math.min(1, Math.max(0, v + 0.03 * rng.normal()))
          }
        }
    }
  })
  return {images, size, labels, ids: Array.from({length: n}, (_, j) => `subtle-${seed}-${j}`)}
}
