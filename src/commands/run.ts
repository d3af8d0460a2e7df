import {Args, Flags} from '@oclif/core'
import {MedgenCommand, commonFlags} from '../cli/base-command.js'
import {UserError} from '../errors.js'
import {stageNames} from '../run/stage-names.js'

export default class Run extends MedgenCommand {
  static summary = 'Run the whole pipeline from one config and write report.html.'

  static description = `Runs ${stageNames.slice(0, -1).join(', ')} and ${stageNames.at(-1)}
in order through one run directory. A stage already complete for the same inputs and config
is skipped; an interrupted stage resumes from its last checkpoint; once a stage reruns, the
stages after it rerun too. Writes <run>/report.html at the end.`

  static examples = [
    '<%= config.bin %> run configs/demo.yaml',
    '<%= config.bin %> run configs/ham10000.yaml --from finetune-dit --to eval',
    '<%= config.bin %> run configs/demo.yaml --set run.dir=runs/demo2 --force'
  ]

  static enableJsonFlag = true

  static args = {config: Args.string({description: 'run config (YAML)', required: true})}

  static flags = {
    ...commonFlags,
    from: Flags.string({description: 'first stage to run', options: [...stageNames]}),
    to: Flags.string({description: 'last stage to run', options: [...stageNames]}),
    force: Flags.boolean({description: 'redo stages even when up to date'}),
    'no-report': Flags.boolean({description: 'skip writing report.html'})
  }

  // The config describes the whole run, synth included, so a dataset remembered from
  // `medgen caption DIR` must not replace the one its synth stage writes.
  protected recallsDataset = false

  async run(): Promise<Record<string, unknown>> {
    const {args, flags} = await this.parse(Run)
    if (flags.config !== undefined && flags.config !== args.config) {
      throw new UserError(
        `medgen run ${args.config} -c ${flags.config}: two configs; give one (layer settings on it with --set)`
      )
    }
    const config = this.loadRunConfig({...flags, config: args.config})
    const {runPipeline} = await import('../stages/run-pipeline.js')
    await runPipeline(config, {
      from: flags.from,
      to: flags.to,
      force: flags.force,
      report: !flags['no-report'],
      configFile: args.config
    })
    // --json: the run record (config, backend, per-stage timings) and where the results are
    const {runLayout} = await import('../run/layout.js')
    const layout = runLayout(config.run.dir)
    return {
      ...this.readResult(layout.runRecord),
      report: flags['no-report'] ? null : layout.report,
      eval: layout.eval.metrics
    }
  }
}
