import {Flags} from '@oclif/core'
import {MedgenCommand, notImplemented, stageFlags} from '../cli/base-command.js'

export default class FinetuneDit extends MedgenCommand {
  static description = `Fine-tune a PixArt-alpha transformer with LoRA, conditioned by the HFFM anatomy and style tokens (paper §2.2-2.3).

Writes <run>/dit/lora.safetensors (peft key names) + adapter_config.json, dit/hffm.safetensors,
dit/checkpoints/, a loss curve and dit/metrics.json.`

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
    resume: Flags.string({description: 'latest or a checkpoint folder'}),
  }

  async run(): Promise<void> {
    await this.parse(FinetuneDit)
    notImplemented(7)
  }
}
