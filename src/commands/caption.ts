import {Flags} from '@oclif/core'
import {MedgenCommand, notImplemented, stageFlags} from '../cli/base-command.js'

export default class Caption extends MedgenCommand {
  static description = `Caption every image of a dataset with anatomy and style attributes (paper §2.1).

Captioners: "measured" computes shape, border, symmetry, colour and texture from image + mask
(no model needed; the embedded default), "ollama" asks a LLaVA model served by Ollama.
Writes <run>/captions/captions.jsonl and captions/metadata.csv (file_name,text).`

  static examples = [
    '<%= config.bin %> caption ./ham10000',
    '<%= config.bin %> caption ./ham10000 --captioner ollama --model llava:13b --concurrency 4',
    '<%= config.bin %> caption ./data --shard auto   # inside a Slurm array job',
  ]

  static flags = {
    ...stageFlags,
    captioner: Flags.string({description: 'measured or ollama', options: ['measured', 'ollama']}),
    model: Flags.string({description: 'Ollama model, e.g. llava:13b'}),
    host: Flags.string({description: 'Ollama server URL'}),
    'refine-model': Flags.string({description: 'second Ollama text model that shortens long captions'}),
    concurrency: Flags.integer({description: 'requests in flight'}),
    shard: Flags.string({description: 'i/n or auto (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT)'}),
    layout: Flags.string({description: 'force a dataset layout', options: ['auto', 'ham10000', 'kvasir-seg', 'busi', 'folder']}),
  }

  async run(): Promise<void> {
    await this.parse(Caption)
    notImplemented(4)
  }
}
