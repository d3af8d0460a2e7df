// LoRA adapters with peft semantics (docs/REFERENCE.md §5.3): y = W x + b + scale * B(A x), scale =
// lora_alpha / r (times an optional adapter weight); A ~ N(0, (1/r)^2), B = 0 ("gaussian" init).
// Saved as peft-style safetensors `transformer.<module>.lora_A.weight` [r,in] / `lora_B.weight`
// [out,r] (conv: A [r,in,k,k], B [out,r,1,1]) with an adapter_config.json, so Python can load it.
// In memory adapters use tfjs layout: A [in,r] / B [r,out]; conv A HWIO [k,k,in,r], B [1,1,r,out].
import * as tf from '@tensorflow/tfjs'
import {join, dirname} from 'node:path'
import {UserError} from '../errors.js'
import {pathExists, writeJsonAtomic} from '../io/atomic.js'
import {readSafetensors, readSafetensorsMetadata, writeSafetensors} from '../io/safetensors.js'
import type {TensorMap} from '../io/tensor-map.js'
import {jsonObject, parseUserJson, validateUserData} from '../io/validate.js'
import {kindOf, tfToTorch, torchToTf} from './params.js'
import type {Rng} from '../util/rng.js'
import {promises as fs} from 'node:fs'

export interface LoraAdapter {
  A: tf.Tensor
  B: tf.Tensor
}

export interface LoraSet {
  /** module path (e.g. transformer_blocks.0.attn1.to_q) -> adapter */
  adapters: Map<string, LoraAdapter>
  /** effective multiplier of B(A x): lora_alpha / r * adapter weight */
  scale: number
  rank: number
  alpha: number
  targetModules: string[]
}

/** The authors' list (docs/REFERENCE.md §5.3), matched as dotted-path suffixes. */
export const BROAD_TARGETS = [
  'to_k',
  'to_q',
  'to_v',
  'to_out.0',
  'proj_in',
  'proj_out',
  'ff.net.0.proj',
  'ff.net.2',
  'proj',
  'linear',
  'linear_1',
  'linear_2'
]
/** The paper's wording: "the projection parameters of the attention layers". */
export const ATTENTION_TARGETS = ['to_k', 'to_q', 'to_v', 'to_out.0']

export function loraTargetList(kind: 'broad' | 'attention-only'): string[] {
  return kind === 'broad' ? BROAD_TARGETS : ATTENTION_TARGETS
}

/** peft's rule: a target matches a module whose dotted path equals it or ends in "." + target. */
export function matchesTarget(modulePath: string, targets: readonly string[]): boolean {
  return targets.some(t => modulePath === t || modulePath.endsWith('.' + t))
}

export interface AdaptableModule {
  path: string
  inFeatures: number
  outFeatures: number
  kernel?: number
}

/** Linear and Conv2d modules of a state_dict shape table (PyTorch layout) that LoRA may adapt. */
export function adaptableModules(shapes: Map<string, number[]>): AdaptableModule[] {
  const out: AdaptableModule[] = []
  for (const [name, s] of shapes) {
    if (!name.endsWith('.weight')) continue
    const path = name.slice(0, -'.weight'.length)
    if (s.length === 2) out.push({path, inFeatures: s[1], outFeatures: s[0]})
    else if (s.length === 4 && s[2] === s[3]) out.push({path, inFeatures: s[1], outFeatures: s[0], kernel: s[2]})
  }
  return out
}

/** Fresh adapters (trainable variables) on every module that matches `targets`. */
export function createLora(
  modules: AdaptableModule[],
  targets: string[],
  rank: number,
  alpha: number,
  rng: Rng
): LoraSet {
  const adapters = new Map<string, LoraAdapter>()
  for (const m of modules) {
    if (!matchesTarget(m.path, targets)) continue
    const k = m.kernel ?? 1
    const fanIn = k * k * m.inFeatures
    const aShape = m.kernel ? [k, k, m.inFeatures, rank] : [m.inFeatures, rank]
    const bShape = m.kernel ? [1, 1, rank, m.outFeatures] : [rank, m.outFeatures]
    const a0 = tf.tensor(rng.normalArray(fanIn * rank, 1 / rank), aShape)
    const b0 = tf.zeros(bShape)
    adapters.set(m.path, {A: tf.variable(a0, true), B: tf.variable(b0, true)})
    a0.dispose()
    b0.dispose()
  }
  if (adapters.size === 0) throw new UserError(`dit.lora.targets: no module matches ${targets.join(', ')}`)
  return {adapters, scale: alpha / rank, rank, alpha, targetModules: targets}
}

/** Trainable tensors of a LoRA set under their peft names (without the model prefix). */
export function loraParams(set: LoraSet): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>()
  for (const [path, a] of set.adapters) {
    out.set(`${path}.lora_A.weight`, a.A)
    out.set(`${path}.lora_B.weight`, a.B)
  }
  return out
}

/** W' = W + scale * (A @ B) in tfjs layout, for inference without the extra matmuls. */
export function mergeLora(params: Map<string, tf.Tensor>, set: LoraSet, scale = set.scale): Map<string, tf.Tensor> {
  const out = new Map(params)
  for (const [path, {A, B}] of set.adapters) {
    const W = params.get(`${path}.weight`)
    if (!W) throw new UserError(`LoRA adapter ${path}: the model has no ${path}.weight`)
    const delta = tf.tidy(() =>
      tf.matMul(
        A.reshape([-1, A.shape[A.rank - 1]]) as tf.Tensor2D,
        B.reshape([B.shape[B.rank - 2], B.shape[B.rank - 1]]) as tf.Tensor2D
      )
    )
    out.set(
      `${path}.weight`,
      tf.tidy(() => W.add(delta.mul(scale).reshape(W.shape)))
    )
    delta.dispose()
  }
  return out
}

const PREFIXES = ['transformer.', 'base_model.model.']

/** Host state_dict of a LoRA set under `transformer.` peft names (PyTorch layout). */
export async function exportLora(set: LoraSet, prefix = 'transformer.'): Promise<TensorMap> {
  const out: TensorMap = new Map()
  for (const [path, {A, B}] of set.adapters) {
    out.set(`${prefix}${path}.lora_A.weight`, await tfToTorch(A, A.rank === 4 ? 'conv' : 'linear'))
    out.set(`${prefix}${path}.lora_B.weight`, await tfToTorch(B, B.rank === 4 ? 'conv' : 'linear'))
  }
  return out
}

export function adapterConfig(set: LoraSet, baseModel: string): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: null,
    base_model_name_or_path: baseModel || null,
    r: set.rank,
    lora_alpha: set.alpha,
    lora_dropout: 0,
    bias: 'none',
    init_lora_weights: 'gaussian',
    target_modules: set.targetModules,
    fan_in_fan_out: false,
    inference_mode: true,
    use_dora: false,
    use_rslora: false,
    modules_to_save: null,
    revision: null
  }
}

/** peft's weights file name: `PeftModel.from_pretrained(model, folder)` reads it beside adapter_config.json. */
export const PEFT_WEIGHTS = 'adapter_model.safetensors'

export const peftWeightsBeside = (file: string): string => join(dirname(file), PEFT_WEIGHTS)

/**
 * Writes the weights to `file` (diffusers' `transformer.` names, as load_lora_weights reads them),
 * the same tensors as peft's adapter_model.safetensors (`base_model.model.` names, the PeftModel
 * wrapper's state_dict with the adapter name stripped) and adapter_config.json beside them, so
 * `PeftModel.from_pretrained(transformer, "<run>/dit")` loads the folder as it is.
 */
export async function saveLora(file: string, set: LoraSet, baseModel: string): Promise<void> {
  const meta = {
    format: 'pt',
    rank: String(set.rank),
    lora_alpha: String(set.alpha),
    target_modules: JSON.stringify(set.targetModules)
  }
  await writeSafetensors(file, await exportLora(set), meta)
  await writeSafetensors(peftWeightsBeside(file), await exportLora(set, 'base_model.model.'), meta)
  await writeJsonAtomic(adapterConfigBeside(file), adapterConfig(set, baseModel))
}

/**
 * Reads a LoRA file: peft (`transformer.` or `base_model.model.` prefix, lora_A/lora_B) or
 * kohya-style lora_down/lora_up with dotted module paths. Alpha comes from adapter_config.json
 * beside the file, else the file's metadata, else alpha = r (scale 1). `weight` multiplies it.
 */
export async function loadLora(file: string, weight = 1): Promise<LoraSet> {
  const host = await readSafetensors(file)
  const meta = await readSafetensorsMetadata(file)
  const adapters = new Map<string, {A?: tf.Tensor; B?: tf.Tensor}>()
  let rank = 0
  for (const [rawName, t] of host) {
    let name = rawName
    for (const p of PREFIXES)
      if (name.startsWith(p)) {
        name = name.slice(p.length)
        break
      }
    const m = /^(.*)\.(lora_A|lora_B|lora_down|lora_up)(?:\.[^.]+)?\.weight$/.exec(name)
    if (!m) {
      if (/\.alpha$/.test(name)) continue // kohya per-module alpha: handled through metadata below
      throw new UserError(`${file}: tensor ${rawName} is not a LoRA weight (expected ...lora_A.weight / lora_B.weight)`)
    }
    const isA = m[2] === 'lora_A' || m[2] === 'lora_down'
    const entry = adapters.get(m[1]) ?? {}
    const value = torchToTf(t, kindOf(t.shape, 'weight'))
    if (isA) {
      entry.A = value
      rank = t.shape[0]
    } else entry.B = value
    adapters.set(m[1], entry)
  }
  const complete = new Map<string, LoraAdapter>()
  for (const [path, e] of adapters) {
    if (!e.A || !e.B)
      throw new UserError(`${file}: module ${path} has ${e.A ? 'lora_A' : 'lora_B'} but not the other half`)
    complete.set(path, {A: e.A, B: e.B})
  }
  if (complete.size === 0) throw new UserError(`${file}: no LoRA tensors found`)
  let alpha = Number(meta.lora_alpha ?? NaN)
  let targets: string[] = meta.target_modules ? (safeJson(meta.target_modules) ?? []) : []
  const cfgPath = adapterConfigBeside(file)
  if (await pathExists(cfgPath)) {
    const cfg = validateUserData(
      jsonObject,
      parseUserJson(await fs.readFile(cfgPath, 'utf8'), {file: cfgPath}, 'adapter config'),
      {file: cfgPath},
      'adapter config'
    )
    if (typeof cfg.lora_alpha === 'number') alpha = cfg.lora_alpha
    if (typeof cfg.r === 'number' && cfg.r !== rank)
      throw new UserError(`${cfgPath}: r ${cfg.r} does not match the rank ${rank} of ${file}`)
    if (Array.isArray(cfg.target_modules)) targets = cfg.target_modules
  }
  if (!Number.isFinite(alpha)) alpha = rank
  return {adapters: complete, scale: (alpha / rank) * weight, rank, alpha, targetModules: targets}
}

/** peft keeps the rank, alpha and targets in adapter_config.json next to the weights. */
export const adapterConfigBeside = (file: string): string => join(dirname(file), 'adapter_config.json')

function safeJson(s: string): any {
  try {
    return JSON.parse(s)
  } catch {
    return null
  }
}

export function disposeLora(set: LoraSet): void {
  for (const {A, B} of set.adapters.values()) {
    A.dispose()
    B.dispose()
  }
}
