// The run directory remembers its dataset: `medgen caption ./cls` records the folder (absolute)
// in <run>/dataset.json, and every later command on that run reads it when neither data.path
// nor synth.out is set, so the README's commands work one after the other with no --set.
import {existsSync, readFileSync, statSync} from 'node:fs'
import {resolve} from 'node:path'
import {z} from 'zod'
import type {MedgenConfig} from '../config/schema.js'
import {UserError} from '../errors.js'
import {writeFileAtomicSync} from '../io/atomic.js'
import {runLayout} from './layout.js'

const recordSchema = z.object({
  path: z.string().min(1),
  layout: z.enum(['ham10000', 'kvasir-seg', 'busi', 'folder', 'flat']).optional()
})
type DatasetRecord = z.infer<typeof recordSchema>

export function recallDataset(runDir: string): DatasetRecord | null {
  const file = runLayout(runDir).dataset
  if (!existsSync(file)) return null
  let value: unknown
  try {
    value = JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    throw new UserError(`${file}: not valid JSON; delete it and pass the dataset folder again`)
  }
  const parsed = recordSchema.safeParse(value)
  if (!parsed.success)
    throw new UserError(`${file}: expected {"path": "<dataset folder>"}; delete it and pass the dataset folder again`)
  return parsed.data
}

/** Records `path` (made absolute) as the run's dataset, when it is a folder; a typo is reported by the stage, not remembered. */
export function rememberDataset(config: MedgenConfig, given: string): void {
  const path = resolve(given)
  let isDir: boolean
  try {
    isDir = statSync(path).isDirectory()
  } catch {
    return
  }
  if (!isDir) return
  const layout = config.data.layout
  const record: DatasetRecord = {path, ...(layout !== 'auto' ? {layout} : {})}
  writeFileAtomicSync(runLayout(config.run.dir).dataset, JSON.stringify(record, null, 2) + '\n')
}

/** The run's remembered dataset in an empty data.path (and synth.out), else the config as it is. */
export function withRunDataset(config: MedgenConfig): MedgenConfig {
  if (config.data.path || config.synth.out) return config
  const recalled = recallDataset(config.run.dir)
  if (!recalled) return config
  const layout = config.data.layout === 'auto' && recalled.layout ? recalled.layout : config.data.layout
  return {...config, data: {...config.data, path: recalled.path, layout}}
}
