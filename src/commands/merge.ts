import {Args} from '@oclif/core'
import {MedgenCommand, commonFlags, notImplemented} from '../cli/base-command.js'

export default class Merge extends MedgenCommand {
  static description = `Join the parts written by sharded runs (--shard i/n, Slurm arrays) after checking
that every part is present and that no two parts overlap.`

  static examples = [
    '<%= config.bin %> merge captions --run-dir runs/ham',
    '<%= config.bin %> merge samples --run-dir runs/ham',
  ]

  static args = {what: Args.string({description: 'captions or samples', options: ['captions', 'samples'], required: true})}

  static flags = {...commonFlags}

  async run(): Promise<void> {
    await this.parse(Merge)
    notImplemented(4)
  }
}
