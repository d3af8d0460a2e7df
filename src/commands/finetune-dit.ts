import {Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {MedgenCommand, stageFlags} from '../cli/base-command.js'
import {UserError} from '../errors.js'
import {initBackend} from '../backend/index.js'
import {runStage} from '../stages/stage.js'
import {finetuneDitStageFor} from '../stages/finetune-dit.js'

export default class FinetuneDit extends MedgenCommand {
  static description = stageHelp('finetune-dit', `Without weights.pixart a small transformer is trained from scratch instead of LoRA and saved as
dit/transformer/ (diffusers layout): on the latents of weights.vae, or of a small VAE trained here
first with dit.vae.train (dit/vae/, the embedded demo), else in pixel space (dit.preset pixart-demo).`)

  static examples = [
    '<%= config.bin %> finetune-dit --rank 8',
    '<%= config.bin %> finetune-dit --config configs/ham10000.yaml --resume latest --checkpointing-steps 500',
  ]

  static flags = {
    ...stageFlags,
    rank: Flags.integer({description: 'LoRA rank (config dit.lora.rank)'}),
    steps: Flags.integer({description: 'optimizer steps'}),
    'checkpointing-steps': Flags.integer({description: 'steps between checkpoints'}),
    conditioning: Flags.string({description: 'hffm, concat, text or class', options: ['hffm', 'concat', 'text', 'class']}),
    resume: Flags.string({description: 'latest or a checkpoint folder (default: latest unless --force)'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(FinetuneDit)
    const config = this.loadRunConfig(flags, {
      'dit.lora.rank': flags.rank,
      'dit.steps': flags.steps,
      'dit.checkpointingSteps': flags['checkpointing-steps'],
      'dit.conditioning': flags.conditioning,
    })
    if (flags.resume !== undefined && flags.resume === '') throw new UserError('--resume: expected latest or a checkpoint folder')
    await initBackend(config.run.backend, config.run.threads)
    const spec = finetuneDitStageFor({resume: flags.resume})
    const {skipped, seconds} = await runStage(spec, config, {force: flags.force})
    this.log(skipped ? 'finetune-dit: up to date, nothing to do' : `finetune-dit: done in ${seconds.toFixed(0)} s; see ${config.run.dir}/dit/metrics.json`)
  }
}
