import {Flags} from '@oclif/core'
import {MedgenCommand, stageFlags} from '../cli/base-command.js'
import {initBackend} from '../backend/index.js'

export default class TrainVisual extends MedgenCommand {
  static description = `Train the visual disentangler: anatomy U-Net + segmentation head + style VAE + AdaIN decoder (paper §2.2, Eq. 1).

Writes <run>/visual/model.safetensors, visual/features.safetensors (anatomy vector, see visual.anatomyVector, and style mu per image),
a reconstruction/style-swap grid PNG, loss curves and visual/metrics.json.`

  static examples = [
    '<%= config.bin %> train-visual --config configs/demo.yaml',
    '<%= config.bin %> train-visual --config configs/ham10000.yaml --epochs 60 --resume',
  ]

  static flags = {
    ...stageFlags,
    epochs: Flags.integer({description: 'training epochs (config visual.epochs)'}),
    resume: Flags.boolean({description: 'continue from the last checkpoint (default); --no-resume starts over', allowNo: true}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(TrainVisual)
    const config = this.loadRunConfig(flags, {'visual.epochs': flags.epochs})
    await initBackend(config.run.backend, config.run.threads)
    const {runTrainVisual} = await import('../stages/train-visual.js')
    await runTrainVisual(config, {force: flags.force, resume: flags.resume})
  }
}
