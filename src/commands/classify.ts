import {Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {runLayout} from '../run/layout.js'
import {configHelp} from '../cli/config-help.js'
import {MedgenCommand, datasetArg, stageFlags} from '../cli/base-command.js'
import {UserError} from '../errors.js'

const protocols = ['real', 'real+synthetic', 'synthetic']

export default class Classify extends MedgenCommand {
  static description = stageHelp(
    'classify',
    `Trains a classifier under each protocol (real, real+synthetic, synthetic) for several seeds and
always tests on the real test split. The metrics: accuracy, weighted and macro F1, balanced accuracy,
OvR/OvO AUC, per-class recall, confusion matrix; per seed and mean ± std.
Each seed checkpoints as it trains; --resume (default) continues an interrupted run.`
  )

  static examples = [
    '<%= config.bin %> classify --config configs/demo.yaml',
    '<%= config.bin %> classify --protocol real,real+synthetic --seeds 3',
    '<%= config.bin %> classify --protocol synthetic --preset resnet18 --set classify.epochs=30'
  ]

  static args = datasetArg

  static enableJsonFlag = true

  static flags = {
    ...stageFlags,
    protocol: Flags.string({
      description: configHelp('classify.protocols', 'comma list of protocols'),
      options: protocols,
      multiple: true,
      delimiter: ','
    }),
    seeds: Flags.integer({description: configHelp('classify.seeds', 'seeds per protocol')}),
    preset: Flags.string({
      description: configHelp('classify.preset', 'classifier'),
      options: ['small-cnn', 'resnet18']
    }),
    ratio: Flags.string({
      description: configHelp('classify.syntheticRatio', 'synthetic images per real training image (real+synthetic)')
    }),
    resume: Flags.boolean({
      description: 'continue from the last checkpoint (--no-resume starts each seed over)',
      allowNo: true,
      default: true
    })
  }

  async run(): Promise<Record<string, unknown>> {
    const {args, flags} = await this.parse(Classify)
    const list = flags.protocol
    for (const p of list ?? [])
      if (!protocols.includes(p)) throw new UserError(`--protocol ${p}: unknown; use ${protocols.join(', ')}`)
    const ratio = flags.ratio === undefined ? undefined : Number(flags.ratio)
    if (ratio !== undefined && !(ratio >= 0)) throw new UserError(`--ratio ${flags.ratio}: expected a number >= 0`)
    const config = this.loadRunConfig(flags, {
      'data.path': args.dataset,
      'classify.protocols': list,
      'classify.seeds': flags.seeds,
      'classify.preset': flags.preset,
      'classify.syntheticRatio': ratio
    })
    const {initBackend} = await import('../backend/index.js')
    await initBackend(config.run.backend, config.run.threads)
    const {runStage} = await import('../stages/stage.js')
    const {classifyStage} = await import('../stages/classify.js')
    await runStage(classifyStage, config, {force: flags.force, resume: flags.resume})
    this.log(`${config.run.dir}/classify/metrics.json, table.md written`)
    return this.readResult(runLayout(config.run.dir).classify.metrics)
  }
}
