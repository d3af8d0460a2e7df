// Stage manifests (docs/DESIGN.md "The pipeline and its artifacts"): each stage writes
// <run>/<stage>/manifest.json with the medgen version, backend, seed, resolved config,
// sha256 of inputs and outputs, and times. A stage whose manifest matches its inputs and
// config (and whose outputs are intact) is skipped unless forced.
import {promises as fs, readFileSync} from 'node:fs'
import {join, relative, resolve, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {UserError} from '../errors.js'
import {sha256, sha256File, stableStringify, writeJsonAtomic, pathExists} from '../io/atomic.js'
import {stageManifest} from '../run/layout.js'
import {z} from '../io/validate.js'

export const medgenVersion: string = (() => {
  try {
    const pkg = JSON.parse(
      readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')
    )
    return pkg.version as string
  } catch {
    return '0.0.0'
  }
})()

export interface StageManifest {
  medgen: string
  stage: string
  status: 'complete' | 'running'
  backend: string | null
  seed: number
  config: unknown
  configHash: string
  inputs: Record<string, string>
  outputs: Record<string, string>
  startedAt: string
  finishedAt: string | null
  seconds: number | null
  notes?: Record<string, unknown>
}

/** sha256 of a file, or of every file under a folder (sorted relative paths). */
export async function hashPath(path: string): Promise<string> {
  const stat = await fs.stat(path)
  if (stat.isFile()) return sha256File(path)
  const entries: string[] = []
  async function walk(dir: string): Promise<void> {
    for (const e of await fs.readdir(dir, {withFileTypes: true})) {
      if (e.name.startsWith('.')) continue
      const p = join(dir, e.name)
      if (e.isDirectory()) await walk(p)
      else if (e.isFile()) entries.push(p)
    }
  }
  await walk(path)
  entries.sort()
  const parts: string[] = []
  for (const p of entries) {
    // Large datasets: hash path + size + mtime rather than every byte of every image.
    const s = await fs.stat(p)
    parts.push(`${relative(path, p)}\t${s.size}\t${Math.floor(s.mtimeMs)}`)
  }
  return sha256(parts.join('\n'))
}

/** The fields every reader of a manifest relies on; a manifest without them counts as absent (the stage is redone). */
const manifestSchema = z.looseObject({
  stage: z.string(),
  status: z.string(),
  configHash: z.string(),
  inputs: z.record(z.string(), z.string()),
  outputs: z.record(z.string(), z.string())
})

export async function readManifest(runDir: string, stage: string): Promise<StageManifest | null> {
  let value: unknown
  try {
    value = JSON.parse(await fs.readFile(stageManifest(runDir, stage), 'utf8'))
  } catch {
    return null
  }
  return manifestSchema.safeParse(value).success ? (value as StageManifest) : null
}

/** Inputs that must exist, with the command that makes each one. */
export interface StageInput {
  path: string
  madeBy: string
}

export async function requireInputs(inputs: StageInput[]): Promise<void> {
  for (const input of inputs) {
    if (!(await pathExists(input.path))) {
      throw new UserError(`${input.path}: missing; run \`${input.madeBy}\` first`)
    }
  }
}

export async function hashInputs(runDir: string, inputs: StageInput[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const input of inputs) out[relOrAbs(runDir, input.path)] = await hashPath(input.path)
  return out
}

function relOrAbs(runDir: string, p: string): string {
  const rel = relative(runDir, resolve(p))
  return rel.startsWith('..') ? resolve(p) : rel
}

/** True when the stage completed earlier with the same inputs and config, and its outputs are unchanged. */
export async function isUpToDate(
  runDir: string,
  stage: string,
  configHash: string,
  inputs: Record<string, string>
): Promise<boolean> {
  const m = await readManifest(runDir, stage)
  if (!m || m.status !== 'complete' || m.configHash !== configHash) return false
  if (stableStringify(m.inputs) !== stableStringify(inputs)) return false
  for (const [rel, hash] of Object.entries(m.outputs)) {
    const p = resolve(runDir, rel)
    if (!(await pathExists(p))) return false
    if ((await hashPath(p)) !== hash) return false
  }
  return true
}

export function configHashOf(config: unknown): string {
  return sha256(stableStringify(config))
}

export async function writeManifest(runDir: string, m: StageManifest): Promise<void> {
  await writeJsonAtomic(stageManifest(runDir, m.stage), m)
}

export async function hashOutputs(runDir: string, outputs: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const p of outputs) out[relOrAbs(runDir, p)] = await hashPath(p)
  return out
}
