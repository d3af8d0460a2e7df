import {Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {runLayout} from '../run/layout.js'
import {configHelp} from '../cli/config-help.js'
import {MedgenCommand, datasetArg, stageFlags} from '../cli/base-command.js'
import {UserError} from '../errors.js'
import {initBackend} from '../backend/index.js'
import {runStage} from '../stages/stage.js'
import {finetuneDitStageFor} from '../stages/finetune-dit.js'

export default class FinetuneDit extends MedgenCommand {
  static description = stageHelp(
    'finetune-dit',
    `Without weights.pixart a small transformer is trained from scratch instead of LoRA and saved as
dit/transformer/ (diffusers layout): on the latents of weights.vae, or of a small VAE trained here
first with dit.vae.train (dit/vae/, the embedded demo), else in pixel space (dit.preset pixart-demo).`
  )

  static examples = [
    '<%= config.bin %> finetune-dit --rank 8',
    '<%= config.bin %> finetune-dit --config configs/ham10000.yaml --checkpointing-steps 500 --resume-from runs/medgen/dit/checkpoints/checkpoint-1500',
    '<%= config.bin %> finetune-dit --learning-rate 1e-4 --train-batch-size 16 --max-train-steps 4000 --output-dir runs/ham'
  ]

  static args = datasetArg

  static enableJsonFlag = true

  static flags = {
    ...stageFlags,
    rank: Flags.integer({description: configHelp('dit.lora.rank', 'LoRA rank')}),
    'lora-alpha': Flags.string({
      description: configHelp('dit.lora.alpha', 'LoRA alpha (scale = alpha / rank); unset = the rank')
    }),
    steps: Flags.integer({
      description: configHelp('dit.steps', 'optimizer steps (diffusers: --max-train-steps)'),
      aliases: ['max-train-steps']
    }),
    'checkpointing-steps': Flags.integer({
      description: configHelp('dit.checkpointingSteps', 'steps between checkpoints')
    }),
    conditioning: Flags.string({
      description: configHelp('dit.conditioning', 'condition tokens'),
      options: ['hffm', 'concat', 'text', 'class']
    }),
    'learning-rate': Flags.string({
      description: configHelp('dit.lr', 'peak learning rate (diffusers spelling)'),
      aliases: ['lr']
    }),
    'train-batch-size': Flags.integer({
      description: configHelp('dit.batchSize', 'images per optimizer step (diffusers spelling)')
    }),
    resolution: Flags.integer({
      description: configHelp('data.imageSize', 'training image side in pixels (diffusers spelling)')
    }),
    resume: Flags.boolean({
      description: 'continue from the latest checkpoint (the default unless --force); --no-resume starts over',
      allowNo: true
    }),
    'resume-from': Flags.string({
      description: 'continue from this checkpoint folder (diffusers: --resume_from_checkpoint)'
    })
  }

  async run(): Promise<Record<string, unknown>> {
    this.argv = legacyResume(this.argv)
    const {args, flags} = await this.parse(FinetuneDit)
    const loraAlpha = flags['lora-alpha'] === undefined ? undefined : Number(flags['lora-alpha'])
    if (loraAlpha !== undefined && !(loraAlpha > 0))
      throw new UserError(`--lora-alpha ${flags['lora-alpha']}: expected a number > 0`)
    const learningRate = flags['learning-rate'] === undefined ? undefined : Number(flags['learning-rate'])
    if (learningRate !== undefined && !(learningRate > 0))
      throw new UserError(`--learning-rate ${flags['learning-rate']}: expected a number > 0, e.g. 1e-4`)
    const config = this.loadRunConfig(flags, {
      'data.path': args.dataset,
      'dit.lora.rank': flags.rank,
      'dit.lora.alpha': loraAlpha,
      'dit.steps': flags.steps,
      'dit.checkpointingSteps': flags['checkpointing-steps'],
      'dit.conditioning': flags.conditioning,
      'dit.lr': learningRate,
      'dit.batchSize': flags['train-batch-size'],
      'data.imageSize': flags.resolution
    })
    if (flags['resume-from'] === '') throw new UserError('--resume-from: expected a checkpoint folder')
    if (flags['resume-from'] !== undefined && flags.resume === false)
      throw new UserError('--resume-from and --no-resume contradict each other; give one')
    const resume = flags['resume-from'] ?? (flags.resume === undefined ? undefined : flags.resume ? 'latest' : false)
    await initBackend(config.run.backend, config.run.threads)
    const spec = finetuneDitStageFor({resume})
    const {skipped, seconds} = await runStage(spec, config, {force: flags.force})
    this.log(
      skipped
        ? 'finetune-dit: up to date, nothing to do'
        : `finetune-dit: done in ${seconds.toFixed(0)} s; see ${config.run.dir}/dit/metrics.json`
    )
    return this.readResult(runLayout(config.run.dir).dit.metrics)
  }
}

/**
 * `--resume` was a string here (`--resume latest`, `--resume <folder>`) and a boolean elsewhere;
 * it is a boolean everywhere now. The old spellings keep working: `latest` is dropped and a
 * folder becomes --resume-from.
 */
export function legacyResume(argv: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1]
    if (argv[i] === '--resume' && next !== undefined && !next.startsWith('-')) {
      if (next === 'latest') out.push('--resume')
      else out.push('--resume-from', next)
      i++
    } else if (argv[i].startsWith('--resume=')) {
      const value = argv[i].slice('--resume='.length)
      out.push(...(value === 'latest' ? ['--resume'] : ['--resume-from', value]))
    } else out.push(argv[i])
  }
  return out
}
