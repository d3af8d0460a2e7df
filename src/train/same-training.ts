// The one rule for resuming (issue 22 item 3): a checkpoint records its training's identity, the
// settings that shaped the steps already taken (model, data, batch size, seed...), and is
// resumed only under the same identity. What may change on resume (more steps or epochs, the
// learning rate after a non-finite loss, the checkpoint interval) is left out of it by each stage.
import {UserError} from '../errors.js'
import {stableStringify} from '../io/atomic.js'

export type TrainingIdentity = Record<string, unknown>

/** Throws a one-line UserError naming the checkpoint folder and the first setting that differs. */
export function requireSameTraining(checkpoint: string, saved: unknown, current: TrainingIdentity): void {
  const refuse = (why: string) =>
    new UserError(`${checkpoint}: checkpoint of a different training: ${why}; start over with --force (or set it back)`)
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved))
    throw refuse('it records no identity (written by an older medgen)')
  const was = flatten(saved as Record<string, unknown>)
  const now = flatten(current)
  for (const key of [...new Set([...now.keys(), ...was.keys()])].sort()) {
    const a = was.get(key),
      b = now.get(key)
    if (a !== b) throw refuse(`${key} is ${shown(a)} there, ${shown(b)} now`)
  }
}

/** Dotted paths of the leaves (arrays count as leaves), each as a stable JSON string. */
function flatten(value: Record<string, unknown>, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const [key, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, path, out)
    else if (v !== undefined) out.set(path, stableStringify(v))
  }
  return out
}

function shown(json: string | undefined): string {
  if (json === undefined) return 'absent'
  return json.length > 60 ? `${json.slice(0, 57)}...` : json
}
