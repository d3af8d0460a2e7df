import {Args, Flags} from '@oclif/core'
import {MedgenCommand, commonFlags, notImplemented} from '../cli/base-command.js'

export default class Run extends MedgenCommand {
  static description = `Run the whole pipeline from one config: synth, caption, train-visual, align-text,
finetune-dit, generate, eval, classify. Stages already complete for the same inputs and
config are skipped; an interrupted stage resumes. Writes report.html in the run directory.`

  static examples = [
    '<%= config.bin %> run configs/demo.yaml',
    '<%= config.bin %> run configs/ham10000.yaml --from finetune-dit --to eval',
  ]

  static args = {config: Args.string({description: 'run config (YAML)', required: true})}

  static flags = {
    ...commonFlags,
    from: Flags.string({description: 'first stage to run'}),
    to: Flags.string({description: 'last stage to run'}),
    force: Flags.boolean({description: 'redo stages even when up to date'}),
  }

  async run(): Promise<void> {
    await this.parse(Run)
    notImplemented(11)
  }
}
