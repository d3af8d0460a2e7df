// `medgen run`'s choice of stages: the registry's order (src/stages/registry.ts), cut by
// --from/--to and by run.stages. Each stage is imported only when it runs.
import type {MedgenConfig} from '../config/schema.js'
import {UserError} from '../errors.js'
import type {StageSpec} from './stage.js'
import {isStageName, stageInfo} from './registry.js'
import {stageNames, type StageName} from '../run/stage-names.js'

export async function loadStage(name: StageName): Promise<StageSpec> {
  const spec = await stageInfo(name).load()
  if (!spec) throw new Error(`stage ${name} has no StageSpec export`)
  return spec
}

export function selectStages(config: MedgenConfig, from?: string, to?: string): StageName[] {
  for (const [flag, value] of [
    ['--from', from],
    ['--to', to]
  ] as const) {
    if (value && !isStageName(value)) {
      throw new UserError(`${flag} ${value}: unknown stage; stages are ${stageNames.join(', ')}`)
    }
  }
  const lo = from ? stageNames.indexOf(from as StageName) : 0
  const hi = to ? stageNames.indexOf(to as StageName) : stageNames.length - 1
  if (lo > hi) throw new UserError(`--from ${from} comes after --to ${to}`)
  const wanted = new Set<string>(config.run.stages)
  return stageNames.filter((s, i) => i >= lo && i <= hi && wanted.has(s))
}
