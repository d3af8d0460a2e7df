import {Flags} from '@oclif/core'
import {MedgenCommand, notImplemented, stageFlags} from '../cli/base-command.js'

export default class Generate extends MedgenCommand {
  static description = `Generate images from free text, from captions, per class or over the attribute grid (paper §2.3).

Writes samples/<class>/<id>.png, samples/manifest.jsonl (prompt, seed, sampler, steps, guidance, seconds)
and a contact sheet per class.`

  static examples = [
    '<%= config.bin %> generate --prompt "irregular asymmetric lesion with blurred border, dark brown reticular"',
    '<%= config.bin %> generate --per-class 16 --sampler dpm-solver++ --steps 20 --guidance 4.5',
    '<%= config.bin %> generate --from-captions test --shard auto',
  ]

  static flags = {
    ...stageFlags,
    prompt: Flags.string({description: 'free-text prompt (repeatable)', multiple: true}),
    prompts: Flags.string({description: 'file with one prompt per line'}),
    'from-captions': Flags.string({description: 'regenerate the captions of a split (train, val, test)'}),
    'per-class': Flags.integer({description: 'N images per class'}),
    grid: Flags.boolean({description: 'every anatomy x style combination'}),
    sampler: Flags.string({options: ['dpm-solver++', 'ddim', 'ddpm'], description: 'sampler'}),
    steps: Flags.integer({description: 'sampling steps'}),
    guidance: Flags.string({description: 'classifier-free guidance scale (0 or 1 disables)'}),
    shard: Flags.string({description: 'i/n or auto'}),
  }

  async run(): Promise<void> {
    await this.parse(Generate)
    notImplemented(8)
  }
}
