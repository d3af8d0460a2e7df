import {Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {runLayout} from '../run/layout.js'
import {configHelp} from '../cli/config-help.js'
import {MedgenCommand, datasetArg, stageFlags} from '../cli/base-command.js'
import {parseShard} from '../util/shard.js'
import {ExitCode, UserError} from '../errors.js'

export default class Caption extends MedgenCommand {
  static description = stageHelp(
    'caption',
    `Captioners: "measured" computes shape, border, symmetry, colour and texture from image + mask
(no model needed; the embedded default), "ollama" asks a LLaVA model served by Ollama.
Each caption is saved as soon as it is made: a rerun (or --resume) captions only what is missing.
With --shard i/n (0-based) only a disjoint slice is captioned, into captions/parts/; join the
parts with \`medgen merge captions\`.`
  )

  static examples = [
    '<%= config.bin %> caption ./ham10000',
    '<%= config.bin %> caption ./ham10000 --captioner ollama --model llava:13b --concurrency 4',
    '<%= config.bin %> caption ./data --shard auto   # inside a Slurm array job'
  ]

  static args = datasetArg

  static enableJsonFlag = true

  static flags = {
    ...stageFlags,
    captioner: Flags.string({
      description: configHelp('caption.captioner', 'measured or ollama'),
      options: ['measured', 'ollama']
    }),
    model: Flags.string({description: configHelp('caption.model', 'Ollama model')}),
    host: Flags.string({
      description: configHelp('caption.host', 'Ollama server URL; default from OLLAMA_HOST when set')
    }),
    'refine-model': Flags.string({
      description: configHelp('caption.refineModel', 'second Ollama text model that shortens long captions')
    }),
    concurrency: Flags.integer({description: configHelp('caption.concurrency', 'requests in flight')}),
    shard: Flags.string({description: 'i/n (0-based) or auto (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT)'}),
    layout: Flags.string({
      description: configHelp('data.layout', 'force a dataset layout (flat: images directly in the folder, one class)'),
      options: ['auto', 'ham10000', 'kvasir-seg', 'busi', 'folder', 'flat']
    }),
    'allow-failures': Flags.integer({
      description: `images that may get no caption before the command exits ${ExitCode.incomplete} (for sbatch --dependency=afterok)`,
      default: 0,
      min: 0
    }),
    resume: Flags.boolean({
      description: 'keep captions already written with the same settings (--no-resume starts over)',
      allowNo: true,
      default: true
    })
  }

  async run(): Promise<Record<string, unknown>> {
    const {args, flags} = await this.parse(Caption)
    const shard = parseShard(flags.shard)
    const config = this.loadRunConfig(flags, {
      'data.path': args.dataset,
      'data.layout': flags.layout,
      'caption.captioner': flags.captioner,
      'caption.model': flags.model,
      'caption.host': flags.host,
      'caption.refineModel': flags['refine-model'],
      'caption.concurrency': flags.concurrency
    })
    // No tfjs here: captioning reads images with sharp and talks HTTP, so no backend start-up.
    const {runCaption} = await import('../stages/caption.js')
    const {failed, total} = await runCaption(config, {shard, force: flags.force, resume: flags.resume})
    if (failed > flags['allow-failures']) {
      throw new UserError(
        `${failed} of ${total} images got no caption (reasons in ${config.run.dir}/captions/${shard ? 'parts/' : ''}failures*.jsonl); ` +
          `the captions made are kept; exit ${ExitCode.incomplete}; --allow-failures ${failed} accepts this`,
        ExitCode.incomplete
      )
    }
    return {captions: runLayout(config.run.dir).captions.jsonl, total, failed}
  }
}
