import {Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {runLayout} from '../run/layout.js'
import {configHelp} from '../cli/config-help.js'
import {MedgenCommand, datasetArg, stageFlags} from '../cli/base-command.js'
import {initBackend} from '../backend/index.js'

export default class TrainVisual extends MedgenCommand {
  static description = stageHelp(
    'train-visual',
    `The features are per image: the anatomy vector (see visual.anatomyVector) and the style mu.`
  )

  static examples = [
    '<%= config.bin %> train-visual --config configs/demo.yaml',
    '<%= config.bin %> train-visual --config configs/ham10000.yaml --epochs 60 --resume'
  ]

  static args = datasetArg

  static enableJsonFlag = true

  static flags = {
    ...stageFlags,
    epochs: Flags.integer({description: configHelp('visual.epochs', 'training epochs')}),
    resume: Flags.boolean({
      description: 'continue from the last checkpoint (default); --no-resume starts over',
      allowNo: true
    })
  }

  async run(): Promise<Record<string, unknown>> {
    const {args, flags} = await this.parse(TrainVisual)
    const config = this.loadRunConfig(flags, {'data.path': args.dataset, 'visual.epochs': flags.epochs})
    await initBackend(config.run.backend, config.run.threads)
    const {runTrainVisual} = await import('../stages/train-visual.js')
    await runTrainVisual(config, {force: flags.force, resume: flags.resume})
    return this.readResult(runLayout(config.run.dir).visual.metrics)
  }
}
