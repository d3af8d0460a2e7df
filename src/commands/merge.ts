import {Args} from '@oclif/core'
import {MedgenCommand, commonFlags} from '../cli/base-command.js'
import {log} from '../util/log.js'

export default class Merge extends MedgenCommand {
  static summary = 'Join the parts of sharded runs (captions or samples) after checking they are complete and disjoint.'

  static description = `Join the parts written by sharded runs (--shard i/n, Slurm arrays) after checking
that every part is present and that no two parts overlap.`

  static examples = [
    '<%= config.bin %> merge captions --run-dir runs/ham',
    '<%= config.bin %> merge samples --run-dir runs/ham'
  ]

  static args = {
    what: Args.string({description: 'captions or samples', options: ['captions', 'samples'], required: true})
  }

  static flags = {...commonFlags}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Merge)
    const config = this.loadRunConfig(flags)
    if (args.what === 'samples') {
      const {mergeSampleShards} = await import('../stages/generate/merge.js')
      const r = await mergeSampleShards(config.run.dir)
      log.info(`merged ${r.parts} parts: ${r.images} images -> ${config.run.dir}/samples/`)
      return
    }
    const {mergeCaptionParts} = await import('../stages/caption/merge.js')
    const summary = await mergeCaptionParts(config.run.dir)
    log.info(
      `merged ${summary.parts} parts: ${summary.captions} captions, ${summary.failures} failures -> ${config.run.dir}/captions/`
    )
  }
}
