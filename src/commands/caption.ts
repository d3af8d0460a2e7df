import {Args, Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {MedgenCommand, stageFlags} from '../cli/base-command.js'
import {parseShard} from '../util/shard.js'

export default class Caption extends MedgenCommand {
  static description = stageHelp('caption', `Captioners: "measured" computes shape, border, symmetry, colour and texture from image + mask
(no model needed; the embedded default), "ollama" asks a LLaVA model served by Ollama.
Each caption is saved as soon as it is made: a rerun (or --resume) captions only what is missing.
With --shard i/n (0-based) only a disjoint slice is captioned, into captions/parts/; join the
parts with \`medgen merge captions\`.`)

  static examples = [
    '<%= config.bin %> caption ./ham10000',
    '<%= config.bin %> caption ./ham10000 --captioner ollama --model llava:13b --concurrency 4',
    '<%= config.bin %> caption ./data --shard auto   # inside a Slurm array job',
  ]

  static args = {dataset: Args.string({description: 'dataset folder (config data.path)'})}

  static flags = {
    ...stageFlags,
    captioner: Flags.string({description: 'measured or ollama', options: ['measured', 'ollama']}),
    model: Flags.string({description: 'Ollama model, e.g. llava:13b'}),
    host: Flags.string({description: 'Ollama server URL'}),
    'refine-model': Flags.string({description: 'second Ollama text model that shortens long captions'}),
    concurrency: Flags.integer({description: 'requests in flight'}),
    shard: Flags.string({description: 'i/n (0-based) or auto (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT)'}),
    layout: Flags.string({description: 'force a dataset layout', options: ['auto', 'ham10000', 'kvasir-seg', 'busi', 'folder']}),
    resume: Flags.boolean({description: 'keep captions already written with the same settings (--no-resume starts over)', allowNo: true, default: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Caption)
    const shard = parseShard(flags.shard)
    const config = this.loadRunConfig(flags, {
      'data.path': args.dataset,
      'data.layout': flags.layout,
      'caption.captioner': flags.captioner,
      'caption.model': flags.model,
      'caption.host': flags.host,
      'caption.refineModel': flags['refine-model'],
      'caption.concurrency': flags.concurrency,
    })
    // No tfjs here: captioning reads images with sharp and talks HTTP, so no backend start-up.
    const {runCaption} = await import('../stages/caption.js')
    await runCaption(config, {shard, force: flags.force, resume: flags.resume})
  }
}
