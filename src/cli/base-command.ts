// Shared flags and error handling for every command: --config/--set/--run-dir/--seed/--backend,
// and user mistakes printed as one line with their exit code instead of a stack trace.
import {Args, Command, Flags} from '@oclif/core'
import {ExitCode, UserError, describeNodeError, printable} from '../errors.js'
import {loadConfig} from '../config/load.js'
import {setReadLimits} from '../io/limits.js'
import type {MedgenConfig} from '../config/schema.js'
import {configHelp} from './config-help.js'
import {rememberDataset, withRunDataset} from '../run/dataset-memory.js'
import {withCachedInception} from '../config/inception-cache.js'
import {resolve} from 'node:path'
import {readFileSync} from 'node:fs'

export const commonFlags = {
  config: Flags.string({char: 'c', description: 'YAML run config (see configs/ and `medgen config schema`)'}),
  set: Flags.string({description: 'override one config key, e.g. --set dit.lora.rank=4 (repeatable)', multiple: true}),
  'run-dir': Flags.string({description: configHelp('run.dir', 'run directory'), aliases: ['output-dir']}),
  seed: Flags.integer({description: configHelp('run.seed', 'random seed')}),
  backend: Flags.string({
    description: configHelp('run.backend', 'tfjs backend (env MEDGEN_BACKEND)'),
    options: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']
  })
}

/** The optional dataset argument of the commands that read the dataset (config data.path). */
export const datasetArg = {
  dataset: Args.string({
    description:
      'dataset folder (config data.path; default: the one this run dir was given before, see <run>/dataset.json)'
  })
}

export const stageFlags = {
  ...commonFlags,
  force: Flags.boolean({description: 'redo the stage even if its manifest says it is up to date'})
}

/**
 * oclif's parse errors put the reason on a second line ("Parsing --rank \n\tExpected an integer
 * but received: abc\nSee more help with --help"); keep every line that says something, on one line.
 */
export function oclifMessage(message: string, commandId?: string): string {
  const lines = message
    .split('\n')
    .map(l => l.trim())
    .filter(l => l && !l.startsWith('See more help'))
  const said = lines
    .filter(l => !l.startsWith('Note:') && !l.startsWith('Alternatively'))
    .map(l => l.replace(/[\s:]+$/, '').replace(/\s+/g, ' '))
  // The note explains why an argument went missing: a multi-value flag (--set) before it ate it.
  const note = lines.some(l => l.startsWith('Note:'))
    ? ' (put arguments before multi-value flags such as --set, or end the flags with --)'
    : ''
  const help = commandId ? `; see medgen ${commandId.replaceAll(':', ' ')} --help` : ''
  return said.join(': ') + note + help
}

export abstract class MedgenCommand extends Command {
  /** whether a run dir's remembered dataset (<run>/dataset.json) fills an empty data.path; `medgen run` reads only its config */
  protected recallsDataset = true
  private datasetToRemember: {config: MedgenConfig; path: string} | null = null

  /** The dataset argument is remembered once the command has done its work (or written what it could). */
  protected async finally(err: Error | undefined): Promise<any> {
    const done = !err || (err instanceof UserError && err.exitCode === ExitCode.incomplete)
    if (done && this.datasetToRemember) {
      try {
        rememberDataset(this.datasetToRemember.config, this.datasetToRemember.path)
      } catch {
        /* the run dir is not writable: nothing to remember */
      }
    }
    return super.finally(err)
  }

  /** Loads the config from --config/--set plus the common flags and any stage-specific overrides. */
  protected loadRunConfig(flags: Record<string, any>, overrides: Record<string, unknown> = {}): MedgenConfig {
    // A dataset given on the command line is made absolute and remembered by the run dir
    // (<run>/dataset.json); without one, the run's remembered dataset is used (src/run/dataset-memory.ts).
    const given = typeof overrides['data.path'] === 'string' ? resolve(overrides['data.path'] as string) : undefined
    if (given !== undefined) overrides = {...overrides, 'data.path': given}
    const loaded = loadConfig({
      file: flags.config,
      sets: flags.set ?? [],
      overrides: {
        'run.dir': flags['run-dir'],
        'run.seed': flags.seed,
        'run.backend': flags.backend,
        ...overrides
      }
    })
    const config = withCachedInception(given === undefined && this.recallsDataset ? withRunDataset(loaded) : loaded)
    if (given !== undefined) this.datasetToRemember = {config, path: given}
    setReadLimits({maxImagePixels: config.run.maxImagePixels, maxInflatedBytes: config.run.maxInflatedBytes})
    return config
  }

  /** A stage's JSON result file, returned by run() so that oclif's --json prints it on stdout. */
  protected readResult(path: string): Record<string, unknown> {
    try {
      return {file: path, ...JSON.parse(readFileSync(path, 'utf8'))}
    } catch {
      return {file: path}
    }
  }

  protected async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<any> {
    if (err instanceof UserError) {
      // messages quote names from users' files: control characters are shown escaped, never sent to the terminal
      process.stderr.write(`medgen: ${printable(err.message.split('\n')[0])}\n`)
      process.exitCode = err.exitCode
      this.exit(err.exitCode)
    }
    // oclif's own flag/arg parsing errors are user mistakes too: one line, exit 2.
    if (err.oclif?.exit !== undefined && err.name !== 'ExitError') {
      process.stderr.write(`medgen: ${oclifMessage(err.message, this.id)}\n`)
      this.exit(2)
    }
    if (process.env.MEDGEN_DEBUG) throw err
    if (err.name === 'ExitError') throw err
    // File-system and node errors a user causes (run dir is a file, an output path below a file,
    // no permission, disk full, a NUL byte in a path) are one line naming the path.
    const fsError = describeNodeError(err)
    if (fsError) {
      process.stderr.write(`medgen: ${fsError.message}\n`)
      process.exitCode = fsError.exitCode
      this.exit(fsError.exitCode)
    }
    process.stderr.write(
      `medgen: internal error: ${err.message.split('\n')[0]} (set MEDGEN_DEBUG=1 for the stack trace)\n`
    )
    this.exit(1)
  }
}
