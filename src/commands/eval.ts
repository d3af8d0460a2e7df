import {Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {MedgenCommand, stageFlags} from '../cli/base-command.js'
import {UserError} from '../errors.js'

const known = ['fid', 'kid', 'hfd', 'dfd', 'control']

export default class Eval extends MedgenCommand {
  static description = stageHelp('eval', `Works on the run (samples vs the real test split) or on any two folders (--samples/--real),
so other systems can be scored with the same code. FID/KID need weights.inception
(pt_inception-2015-12-05-6726825d.pth or its safetensors conversion) or precomputed features
(--features-real/--features-gen: .safetensors, .npy or .npz, incl. pytorch-fid --save-stats
files); without them they are reported as skipped and the other metrics still run.
hfd = Fréchet distance of high-frequency log power spectra (no weights); dfd = Fréchet distance
in the classify model's penultimate features. Every value comes with its definition, N_real, N_gen,
resize mode, weights sha256 and seed.`)

  static examples = [
    '<%= config.bin %> eval --metric fid',
    '<%= config.bin %> eval --metric fid,kid --samples ./sdxl_out --real ./ham10000_test --set weights.inception=./pt_inception.pth',
    '<%= config.bin %> eval --metric fid --features-real real_stats.npz --features-gen gen_acts.npy',
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
    const {flags} = await this.parse(Eval)
    const metrics = flags.metric?.split(',').map(s => s.trim()).filter(Boolean)
    for (const m of metrics ?? []) if (!known.includes(m)) throw new UserError(`--metric ${m}: unknown; use ${known.join(', ')}`)
    const config = this.loadRunConfig(flags, {
      'eval.metrics': metrics, 'eval.samples': flags.samples, 'eval.real': flags.real,
      'eval.featuresReal': flags['features-real'], 'eval.featuresGen': flags['features-gen'],
    })
    const {initBackend} = await import('../backend/index.js')
    await initBackend(config.run.backend, config.run.threads)
    const {runStage} = await import('../stages/stage.js')
    const {evalStage} = await import('../stages/eval.js')
    await runStage(evalStage, config, {force: flags.force})
    this.log(`${config.run.dir}/eval/metrics.json written`)
  }
}
