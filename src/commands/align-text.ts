import {Flags} from '@oclif/core'
import {MedgenCommand, notImplemented, stageFlags} from '../cli/base-command.js'

export default class AlignText extends MedgenCommand {
  static description = `Align caption embeddings with the visual anatomy and style features (paper §2.2, Fig. 3).

Encodes captions with ClinicalBERT (or the hashed encoder), trains the anatomy and style text heads,
writes <run>/text/model.safetensors, text/features.safetensors, text/metrics.json and text/tsne.png.`

  static examples = [
    '<%= config.bin %> align-text --config configs/demo.yaml',
    '<%= config.bin %> align-text --config configs/ham10000.yaml --set weights.text=./Bio_ClinicalBERT',
  ]

  static flags = {
    ...stageFlags,
    epochs: Flags.integer({description: 'training epochs'}),
    resume: Flags.boolean({description: 'continue from the last checkpoint', allowNo: true}),
  }

  async run(): Promise<void> {
    await this.parse(AlignText)
    notImplemented(6)
  }
}
