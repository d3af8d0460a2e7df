import {Args, Flags} from '@oclif/core'
import {readFileSync} from 'node:fs'
import {stageHelp} from '../stages/registry.js'
import {MedgenCommand, stageFlags} from '../cli/base-command.js'
import {ExitCode, UserError} from '../errors.js'
import {runLayout} from '../run/layout.js'

const known = ['fid', 'kid', 'hfd', 'dfd', 'control']

export default class Eval extends MedgenCommand {
  static description = stageHelp(
    'eval',
    `Works on the run (samples vs the real test split) or on any two folders, like pytorch-fid:
\`medgen eval GEN_DIR REAL_DIR\` prints "FID:  <value>" on stdout (--metric picks others).
FID/KID need weights.inception (pt_inception-2015-12-05-6726825d.pth or its safetensors
conversion; when unset, pytorch-fid's download cache $TORCH_HOME/hub/checkpoints, default
~/.cache/torch/hub/checkpoints, is used) or precomputed features (--features-real/--features-gen:
.safetensors, .npy or .npz, incl. pytorch-fid --save-stats files).
Images are resized to 299 with pytorch-fid's bilinear resize (align_corners false, no antialias),
not clean-fid's antialiased PIL resize: compare FID only with papers that used pytorch-fid.
hfd = Fréchet distance of high-frequency log power spectra (no weights); dfd = Fréchet distance
in the classify model's penultimate features. Every value comes with its definition, N_real, N_gen,
resize mode, weights sha256 and seed.
A metric named with --metric (or by the two-folder form) that cannot run exits ${ExitCode.incomplete} after
writing the others; without --metric every metric that can run does, and the rest are reported as skipped.`
  )

  static examples = [
    '<%= config.bin %> eval',
    '<%= config.bin %> eval ./sdxl_out ./ham10000_test --set weights.inception=./pt_inception.pth',
    '<%= config.bin %> eval --metric fid,kid --json',
    '<%= config.bin %> eval --metric fid --features-real real_stats.npz --features-gen gen_acts.npy'
  ]

  static args = {
    generated: Args.string({
      description: 'folder of generated images (config eval.samples); with REAL_DIR, the pytorch-fid form'
    }),
    real: Args.string({description: 'folder of real images (config eval.real)'})
  }

  static enableJsonFlag = true

  static flags = {
    ...stageFlags,
    metric: Flags.string({
      description: 'comma list of metrics (config eval.metrics)',
      options: known,
      multiple: true,
      delimiter: ','
    }),
    samples: Flags.string({description: 'folder of generated images (same as GEN_DIR)'}),
    real: Flags.string({description: 'folder of real images (same as REAL_DIR)'}),
    'features-real': Flags.string({description: 'precomputed real features (.safetensors/.npy/.npz)'}),
    'features-gen': Flags.string({description: 'precomputed generated features'})
  }

  async run(): Promise<Record<string, unknown>> {
    const {args, flags} = await this.parse(Eval)
    const folders = args.generated !== undefined && args.real !== undefined
    if (args.generated !== undefined && args.real === undefined)
      throw new UserError(`eval ${args.generated}: give both folders, GEN_DIR REAL_DIR`)
    // The pytorch-fid form asks for FID unless --metric says otherwise.
    const metrics = flags.metric ?? (folders ? ['fid'] : undefined)
    for (const m of metrics ?? [])
      if (!known.includes(m)) throw new UserError(`--metric ${m}: unknown; use ${known.join(', ')}`)
    const config = this.loadRunConfig(flags, {
      'eval.metrics': metrics,
      'eval.samples': args.generated ?? flags.samples,
      'eval.real': args.real ?? flags.real,
      'eval.featuresReal': flags['features-real'],
      'eval.featuresGen': flags['features-gen']
    })
    const {initBackend} = await import('../backend/index.js')
    await initBackend(config.run.backend, config.run.threads)
    const {runStage} = await import('../stages/stage.js')
    const {evalStage} = await import('../stages/eval.js')
    await runStage(evalStage, config, {force: flags.force})
    const path = runLayout(config.run.dir).eval.metrics
    const result = JSON.parse(readFileSync(path, 'utf8')) as {
      metrics: Record<string, {value?: number; std?: number; skipped?: string}>
    }
    for (const [name, m] of Object.entries(result.metrics)) {
      if (!m.skipped && m.value !== undefined)
        this.log(`${name.toUpperCase()}:  ${m.value}${m.std !== undefined ? ` ± ${m.std}` : ''}`)
    }
    const skipped = (metrics ?? []).filter(name => result.metrics[name]?.skipped)
    if (skipped.length > 0) {
      throw new UserError(
        `${skipped.map(n => `${n} skipped (${result.metrics[n].skipped})`).join('; ')}; the other metrics are in ${path}`,
        ExitCode.incomplete
      )
    }
    return result
  }
}
