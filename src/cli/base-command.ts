// Shared flags and error handling for every command: --config/--set/--run-dir/--seed/--backend,
// and user mistakes printed as one line with their exit code instead of a stack trace.
import {Command, Flags} from '@oclif/core'
import {UserError, describeNodeError} from '../errors.js'
import {loadConfig} from '../config/load.js'
import {setReadLimits} from '../io/limits.js'
import type {MedgenConfig} from '../config/schema.js'

export const commonFlags = {
  config: Flags.string({char: 'c', description: 'YAML run config (see configs/ and `medgen config schema`)'}),
  set: Flags.string({description: 'override one config key, e.g. --set dit.lora.rank=4 (repeatable)', multiple: true}),
  'run-dir': Flags.string({description: 'run directory (config run.dir)'}),
  seed: Flags.integer({description: 'random seed (config run.seed)'}),
  backend: Flags.string({description: 'tfjs backend: auto, tensorflow-gpu, tensorflow, wasm, cpu (env MEDGEN_BACKEND)'}),
}

export const stageFlags = {
  ...commonFlags,
  force: Flags.boolean({description: 'redo the stage even if its manifest says it is up to date'}),
}

/**
 * oclif's parse errors put the reason on a second line ("Parsing --rank \n\tExpected an integer
 * but received: abc\nSee more help with --help"); keep every line that says something, on one line.
 */
export function oclifMessage(message: string, commandId?: string): string {
  const lines = message.split('\n').map(l => l.trim()).filter(l => l && !l.startsWith('See more help'))
  const said = lines.filter(l => !l.startsWith('Note:') && !l.startsWith('Alternatively'))
    .map(l => l.replace(/[\s:]+$/, '').replace(/\s+/g, ' '))
  // The note explains why an argument went missing: a multi-value flag (--set) before it ate it.
  const note = lines.some(l => l.startsWith('Note:')) ? ' (put arguments before multi-value flags such as --set, or end the flags with --)' : ''
  const help = commandId ? `; see medgen ${commandId.replaceAll(':', ' ')} --help` : ''
  return said.join(': ') + note + help
}

export abstract class MedgenCommand extends Command {
  /** Loads the config from --config/--set plus the common flags and any stage-specific overrides. */
  protected loadRunConfig(flags: Record<string, any>, overrides: Record<string, unknown> = {}): MedgenConfig {
    const config = loadConfig({
      file: flags.config,
      sets: flags.set ?? [],
      overrides: {
        'run.dir': flags['run-dir'],
        'run.seed': flags.seed,
        'run.backend': flags.backend,
        ...overrides,
      },
    })
    setReadLimits({maxImagePixels: config.run.maxImagePixels, maxInflatedBytes: config.run.maxInflatedBytes})
    return config
  }

  protected async catch(err: Error & {exitCode?: number, oclif?: {exit?: number}}): Promise<any> {
    if (err instanceof UserError) {
      process.stderr.write(`medgen: ${err.message.split('\n')[0]}\n`)
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
    process.stderr.write(`medgen: internal error: ${err.message.split('\n')[0]} (set MEDGEN_DEBUG=1 for the stack trace)\n`)
    this.exit(1)
  }
}
