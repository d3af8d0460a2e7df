// Scheduler factory: one sampler per file, picked by name from the config (generate.sampler).
import {DdimScheduler} from './ddim.js'
import {DdpmScheduler} from './ddpm.js'
import {DpmSolverMultistepScheduler} from './dpm-solver.js'
import {defaultSchedulerOptions, type SamplerName, type Scheduler, type SchedulerOptions} from './scheduler.js'

export type {SamplerName, Scheduler} from './scheduler.js'

export function createScheduler(name: SamplerName, options: SchedulerOptions = defaultSchedulerOptions): Scheduler {
  switch (name) {
    case 'dpm-solver++':
      return new DpmSolverMultistepScheduler(options)
    case 'ddim':
      return new DdimScheduler(options)
    case 'ddpm':
      return new DdpmScheduler(options)
  }
}
