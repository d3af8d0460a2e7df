// Checkpoints as folders <dir>/checkpoint-<step>/ holding params.safetensors,
// optimizer.safetensors and state.json. A checkpoint is built in a hidden temp folder and
// renamed into place only when complete; older ones are pruned only after that rename
// (Reliability contract: never prune before the new checkpoint exists).
import {promises as fs} from 'node:fs'
import {basename, join} from 'node:path'
import {randomBytes} from 'node:crypto'
import * as tf from '@tensorflow/tfjs'
import {UserError, describeFsError} from '../errors.js'
import {readSafetensors, writeSafetensors} from '../io/safetensors.js'
import type {TensorMap} from '../io/tensor-map.js'
import {parseUserJson, validateUserData, z} from '../io/validate.js'

export interface CheckpointData {
  step: number
  params: TensorMap
  optimizer: TensorMap
  state: any
}

const NAME = /^checkpoint-(\d+)$/
const stateSchema = z.looseObject({step: z.number().int().min(0)})

export class CheckpointManager {
  constructor(
    readonly dir: string,
    readonly keep: number
  ) {}

  async list(): Promise<Array<{step: number; path: string}>> {
    let names: string[]
    try {
      names = await fs.readdir(this.dir)
    } catch {
      return []
    }
    const out: Array<{step: number; path: string}> = []
    for (const name of names) {
      const m = NAME.exec(name)
      if (!m) continue
      const path = join(this.dir, name)
      // state.json is written last: its presence marks a complete checkpoint.
      try {
        await fs.access(join(path, 'state.json'))
        out.push({step: Number(m[1]), path})
      } catch {
        /* incomplete */
      }
    }
    return out.sort((a, b) => a.step - b.step)
  }

  async latest(): Promise<string | null> {
    const all = await this.list()
    return all.length ? all[all.length - 1].path : null
  }

  /**
   * Saves params (tf tensors, exported in the caller's layout: pass already-converted
   * host tensors if the file must be PyTorch-compatible), optimizer moments and JSON state.
   */
  async save(
    step: number,
    data: {params: Map<string, tf.Tensor> | TensorMap; optimizer: TensorMap; state: object}
  ): Promise<string> {
    await fs.mkdir(this.dir, {recursive: true})
    const final = join(this.dir, `checkpoint-${step}`)
    const tmp = join(this.dir, `.checkpoint-${step}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`)
    try {
      await fs.mkdir(tmp, {recursive: true})
      await writeSafetensors(join(tmp, 'params.safetensors'), await toHost(data.params), {step: String(step)})
      await writeSafetensors(join(tmp, 'optimizer.safetensors'), data.optimizer, {step: String(step)})
      const stateText = JSON.stringify({step, ...data.state}, null, 1)
      await fs.writeFile(join(tmp, 'state.json'), stateText)
      const handle = await fs.open(join(tmp, 'state.json'), 'r')
      await handle.sync()
      await handle.close()
      await fs.rm(final, {recursive: true, force: true}) // a stale copy of the same step (re-run after resume)
      await fs.rename(tmp, final)
    } catch (err) {
      await fs.rm(tmp, {recursive: true, force: true}).catch(() => {})
      throw describeFsError(err, final) ?? err
    }
    await this.prune()
    return final
  }

  private async prune(): Promise<void> {
    const all = await this.list()
    for (const old of all.slice(0, Math.max(0, all.length - this.keep))) {
      await fs.rm(old.path, {recursive: true, force: true})
    }
    // leftovers of checkpoints interrupted mid-write
    for (const name of await fs.readdir(this.dir)) {
      if (name.startsWith('.checkpoint-') && !name.includes(`-${process.pid}-`))
        await fs.rm(join(this.dir, name), {recursive: true, force: true})
    }
  }

  async load(path: string): Promise<CheckpointData> {
    const statePath = join(path, 'state.json')
    let text: string
    try {
      text = await fs.readFile(statePath, 'utf8')
    } catch (err) {
      throw describeFsError(err, statePath) ?? new UserError(`${statePath}: unreadable checkpoint state`)
    }
    // The fields every loop relies on; each stage's own fields are its business (passthrough).
    const state: any = validateUserData(
      stateSchema,
      parseUserJson(text, {file: statePath}, 'checkpoint state'),
      {file: statePath},
      'checkpoint state'
    )
    const named = NAME.exec(basename(path))
    if (named && Number(named[1]) !== state.step)
      throw new UserError(`${statePath}: step ${state.step} does not match the folder name ${basename(path)}`)
    const params = await readSafetensors(join(path, 'params.safetensors'))
    const optimizer = await readSafetensors(join(path, 'optimizer.safetensors'))
    return {step: state.step, params, optimizer, state}
  }

  /** Removes every checkpoint (a fresh start must not leave later-step ones to be resumed from). */
  async clear(): Promise<void> {
    for (const {path} of await this.list()) await fs.rm(path, {recursive: true, force: true})
  }

  /** Resolves `--resume` values: true/'latest' -> newest complete checkpoint; a path -> that one. */
  async resolve(resume: boolean | string | undefined): Promise<string | null> {
    if (!resume) return null
    if (resume === true || resume === 'latest') return this.latest()
    try {
      await fs.access(join(resume, 'state.json'))
    } catch {
      throw new UserError(`${resume}: not a complete checkpoint folder (no state.json)`)
    }
    return resume
  }
}

async function toHost(params: Map<string, tf.Tensor> | TensorMap): Promise<TensorMap> {
  const out: TensorMap = new Map()
  for (const [name, t] of params) {
    if (t instanceof tf.Tensor)
      out.set(name, {dtype: 'F32', shape: t.shape.slice(), data: new Float32Array((await t.data()) as Float32Array)})
    else out.set(name, t)
  }
  return out
}
