import {Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {configHelp} from '../cli/config-help.js'
import {MedgenCommand, stageFlags} from '../cli/base-command.js'

export default class Synth extends MedgenCommand {
  static description = stageHelp(
    'synth',
    `Dermoscopy data comes out in the HAM10000 layout, polyp data in the Kvasir-SEG layout and
ultrasound data in the BUSI layout, plus attributes.jsonl: shape, border, symmetry, size,
colour, texture per image. Class labels follow documented rules over the attributes.`
  )

  static examples = [
    '<%= config.bin %> synth --kind dermoscopy --n 1000 --size 64 --out ./synth-derm --seed 1',
    '<%= config.bin %> synth --kind ultrasound --n 200 --out ./synth-busi'
  ]

  static flags = {
    ...stageFlags,
    kind: Flags.string({
      description: configHelp('synth.kind', 'modality and layout'),
      options: ['dermoscopy', 'polyp', 'ultrasound']
    }),
    n: Flags.integer({description: configHelp('synth.n', 'number of images')}),
    size: Flags.integer({description: configHelp('synth.size', 'image side in pixels')}),
    placement: Flags.string({
      description: configHelp(
        'synth.placement',
        'lesion position: anywhere, centred (as dermoscopy is framed) or centred-aligned (centred, major axis horizontal)'
      ),
      options: ['anywhere', 'centred', 'centred-aligned']
    }),
    out: Flags.string({description: configHelp('synth.out', 'output folder; empty = <run-dir>/data')})
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Synth)
    const config = this.loadRunConfig(flags, {
      'synth.kind': flags.kind,
      'synth.n': flags.n,
      'synth.size': flags.size,
      'synth.out': flags.out,
      'synth.placement': flags.placement
    })
    // No tfjs: synth paints in typed arrays and encodes with sharp.
    const {runSynth} = await import('../stages/synth.js')
    await runSynth(config, {force: flags.force})
  }
}
