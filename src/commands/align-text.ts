import {Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {runLayout} from '../run/layout.js'
import {configHelp} from '../cli/config-help.js'
import {MedgenCommand, stageFlags} from '../cli/base-command.js'

export default class AlignText extends MedgenCommand {
  static description = stageHelp(
    'align-text',
    `Encodes captions with ClinicalBERT (or the hashed encoder) and trains the anatomy and style text heads.
Encoder outputs are cached under <run>/cache/text/, so reruns do not re-encode.`
  )

  static examples = [
    '<%= config.bin %> align-text --config configs/demo.yaml',
    '<%= config.bin %> align-text --config configs/ham10000.yaml --set weights.text=./Bio_ClinicalBERT'
  ]

  static enableJsonFlag = true

  static flags = {
    ...stageFlags,
    epochs: Flags.integer({description: configHelp('text.epochs', 'training epochs')}),
    resume: Flags.boolean({
      description: 'continue from the last checkpoint (--no-resume starts over)',
      allowNo: true,
      default: true
    })
  }

  async run(): Promise<Record<string, unknown>> {
    const {flags} = await this.parse(AlignText)
    const config = this.loadRunConfig(flags, {'text.epochs': flags.epochs})
    const {initBackend} = await import('../backend/index.js')
    await initBackend(config.run.backend, config.run.threads)
    const {runStage} = await import('../stages/stage.js')
    const {alignTextStage} = await import('../stages/align-text.js')
    await runStage(alignTextStage, config, {force: flags.force, resume: flags.resume})
    return this.readResult(runLayout(config.run.dir).text.metrics)
  }
}
