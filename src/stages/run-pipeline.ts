// Drives `medgen run`: one line per stage with its timing, skip/rerun cascade, report at the end.
import type {MedgenConfig} from '../config/schema.js'
import {initBackend} from '../backend/index.js'
import {writeJsonAtomic} from '../io/atomic.js'
import {log} from '../util/log.js'
import {runStage} from './stage.js'
import {loadStage, selectStages} from './pipeline.js'
import {runLayout} from '../run/layout.js'

export interface PipelineOptions {
  from?: string
  to?: string
  force?: boolean
  report?: boolean
  configFile?: string
}

export async function runPipeline(
  config: MedgenConfig,
  opts: PipelineOptions = {}
): Promise<Array<{stage: string; skipped: boolean; seconds: number}>> {
  const stages = selectStages(config, opts.from, opts.to)
  const backend = await initBackend(config.run.backend, config.run.threads)
  log.info(`run ${config.run.dir}: ${stages.join(' -> ')} (backend ${backend})`)
  const started = Date.now()
  const timings: Array<{stage: string; skipped: boolean; seconds: number}> = []
  let cascade = !!opts.force
  for (const [i, name] of stages.entries()) {
    log.info(`[${i + 1}/${stages.length}] ${name}`)
    const spec = await loadStage(name)
    const result = await runStage(spec, config, {force: cascade})
    // A stage that reran may have changed what later stages consume: rerun them too.
    if (!result.skipped) cascade = true
    timings.push({stage: name, ...result})
    log.info(
      `[${i + 1}/${stages.length}] ${name}: ${result.skipped ? 'skipped' : `done in ${result.seconds.toFixed(1)} s`}`
    )
  }
  const total = (Date.now() - started) / 1000
  await writeJsonAtomic(runLayout(config.run.dir).runRecord, {
    config: opts.configFile ?? null,
    backend,
    stages: timings,
    seconds: total,
    finishedAt: new Date().toISOString()
  })
  if (opts.report !== false) {
    const {writeReport} = await import('../report/report.js')
    const path = await writeReport(config.run.dir)
    log.info(`report: ${path}`)
  }
  log.info(`run finished in ${total.toFixed(1)} s`)
  return timings
}
