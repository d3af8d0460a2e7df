import {Flags} from '@oclif/core'
import {MedgenCommand, notImplemented, stageFlags} from '../cli/base-command.js'

export default class Classify extends MedgenCommand {
  static description = `Downstream classification with and without synthetic augmentation (paper §3.2).

Trains a classifier under each protocol (real, real+synthetic, synthetic) for several seeds and
always tests on the real test split. Writes classify/metrics.json and a comparison table.`

  static examples = [
    '<%= config.bin %> classify --config configs/demo.yaml',
    '<%= config.bin %> classify --protocol real,real+synthetic --seeds 3',
  ]

  static flags = {
    ...stageFlags,
    protocol: Flags.string({description: 'comma list of real, real+synthetic, synthetic'}),
    seeds: Flags.integer({description: 'seeds per protocol'}),
    resume: Flags.boolean({description: 'continue from the last checkpoint', allowNo: true}),
  }

  async run(): Promise<void> {
    await this.parse(Classify)
    notImplemented(10)
  }
}
