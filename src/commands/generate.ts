import {Flags} from '@oclif/core'
import {stageHelp} from '../stages/registry.js'
import {runLayout} from '../run/layout.js'
import {configHelp} from '../cli/config-help.js'
import {MedgenCommand, stageFlags} from '../cli/base-command.js'
import {UserError} from '../errors.js'
import {initBackend} from '../backend/index.js'
import {runStage} from '../stages/stage.js'
import {readManifest} from '../stages/manifest.js'
import {generateStageFor} from '../stages/generate.js'
import {buildItems, resolveRequest} from '../stages/generate/items.js'
import {parseShard} from '../util/shard.js'

export default class Generate extends MedgenCommand {
  static description = stageHelp(
    'generate',
    `Inputs combine; with none, generate.perClass images per class are drawn from the captions.
Free-text prompts go to samples/prompt/ unless --class names one class.`
  )

  static examples = [
    '<%= config.bin %> generate --prompt "irregular asymmetric lesion with blurred border, dark brown reticular"',
    '<%= config.bin %> generate --per-class 16 --sampler dpm-solver++ --sampling-steps 20 --guidance 4.5',
    '<%= config.bin %> generate --from-captions test --shard auto',
    '<%= config.bin %> generate --grid --class mel'
  ]

  static enableJsonFlag = true

  static flags = {
    ...stageFlags,
    prompt: Flags.string({
      description: 'free-text prompt (repeatable); its images are samples/prompt/prompt-<k>-<hash>-s<seed>.png',
      multiple: true
    }),
    'num-images': Flags.integer({description: 'images per free-text prompt, each with its own seed', min: 1}),
    prompts: Flags.string({
      description: 'file with one prompt per line (# comments; or JSON lines {"prompt", "class"})'
    }),
    'from-captions': Flags.string({description: 'regenerate the captions of a split (train, val, test or all)'}),
    'per-class': Flags.integer({
      description: configHelp('generate.perClass', "N images per class, prompts drawn from that class's captions")
    }),
    grid: Flags.boolean({description: 'every anatomy x style combination of the caption vocabulary'}),
    'swap-pairs': Flags.integer({
      description:
        "per class, N base prompts each with a style-swap and an anatomy-swap twin on the same seed (for eval's swap metrics)"
    }),
    'control-grid': Flags.boolean({
      description: 'the control figure: one seed, rows vary size and shape, columns colour -> samples/control-grid.png'
    }),
    class: Flags.string({
      description: 'only these classes (repeatable); labels free-text prompts when given once',
      multiple: true
    }),
    sampler: Flags.string({
      options: ['dpm-solver++', 'ddim', 'ddpm'],
      description: configHelp('generate.sampler', 'sampler')
    }),
    'sampling-steps': Flags.integer({
      description: configHelp('generate.steps', 'denoising steps per image (--steps is the old name)'),
      aliases: ['steps'],
      deprecateAliases: true
    }),
    guidance: Flags.string({
      description: configHelp('generate.guidance', 'classifier-free guidance scale, 0 or 1 disables it')
    }),
    'batch-size': Flags.integer({description: configHelp('generate.batchSize', 'images per forward pass')}),
    shard: Flags.string({
      description: 'i/n or auto (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT); then `medgen merge samples`'
    })
  }

  async run(): Promise<Record<string, unknown>> {
    const {flags} = await this.parse(Generate)
    let guidance: number | undefined
    if (flags.guidance !== undefined) {
      guidance = Number(flags.guidance)
      if (!Number.isFinite(guidance) || guidance < 0)
        throw new UserError(`--guidance ${flags.guidance}: expected a number >= 0 (0 or 1 disables guidance)`)
    }
    const config = this.loadRunConfig(flags, {
      'generate.sampler': flags.sampler,
      'generate.steps': flags['sampling-steps'],
      'generate.guidance': guidance,
      'generate.batchSize': flags['batch-size']
    })
    const shard = parseShard(flags.shard)
    const request = await resolveRequest(
      {
        prompts: flags.prompt,
        promptsFile: flags.prompts,
        fromCaptions: flags['from-captions'],
        perClass: flags['per-class'],
        grid: flags.grid,
        classes: flags.class,
        imagesPerPrompt: flags['num-images'],
        swapPairs: flags['swap-pairs'],
        controlGrid: flags['control-grid']
      },
      config.generate
    )
    // Unknown classes, splits and ids are reported before anything loads.
    await buildItems(request, {runDir: config.run.dir, runSeed: config.run.seed, dataKind: config.data.kind})
    await initBackend(config.run.backend, config.run.threads)
    const spec = generateStageFor(request, {shard})
    const {skipped} = await runStage(spec, config, {force: flags.force})
    const manifest = await readManifest(config.run.dir, spec.dir ?? spec.name)
    const notes = (manifest?.notes ?? {}) as {generated?: number; skipped?: number; meanSecondsPerImage?: number | null}
    if (skipped) this.log('generate: up to date, nothing to do')
    else {
      const mean = notes.meanSecondsPerImage
      this.log(
        `generate: ${notes.generated ?? 0} images generated, ${notes.skipped ?? 0} already present` +
          (mean != null ? `; mean ${mean.toFixed(3)} s per image` : '') +
          (shard ? `; shard ${shard.index}/${shard.count} done, run \`medgen merge samples\` when all shards are` : '')
      )
    }
    return {manifest: runLayout(config.run.dir).samples.manifest, ...notes}
  }
}
