import {Flags} from '@oclif/core'
import {MedgenCommand, notImplemented, stageFlags} from '../cli/base-command.js'

export default class Eval extends MedgenCommand {
  static description = `Score generated images: FID, KID, HFD (two definitions), domain FD and controllability.

Works on the run (samples vs the real test split) or on any two folders (--samples/--real),
so other systems can be scored with the same code. Writes <run>/eval/metrics.json.`

  static examples = [
    '<%= config.bin %> eval --metric fid',
    '<%= config.bin %> eval --metric fid,kid --samples ./sdxl_out --real ./ham10000_test --set weights.inception=./pt_inception.pth',
  ]

  static flags = {
    ...stageFlags,
    metric: Flags.string({description: 'comma list of fid, kid, hfd, dfd, control'}),
    samples: Flags.string({description: 'folder of generated images'}),
    real: Flags.string({description: 'folder of real images'}),
    'features-real': Flags.string({description: 'precomputed real features (.safetensors/.npy/.npz)'}),
    'features-gen': Flags.string({description: 'precomputed generated features'}),
  }

  async run(): Promise<void> {
    await this.parse(Eval)
    notImplemented(9)
  }
}
