// Where every artifact of a run lives. Stages talk only through these files (docs/DEVELOPING.md
// "Contracts between stages"), so their names are written here once and read everywhere else:
// `runLayout(runDir).text.features` rather than join(runDir, 'text', 'features.safetensors').
// With runDir '' the paths come out relative to the run directory (for docs and manifests).
import {join} from 'node:path'
import type {MedgenConfig} from '../config/schema.js'
import {partName, type Shard} from '../util/shard.js'

/** Folder of each stage's outputs (and of its manifest.json) under the run directory. */
export const stageDirs = {
  synth: 'synth',
  caption: 'captions',
  visual: 'visual',
  text: 'text',
  dit: 'dit',
  samples: 'samples',
  classify: 'classify',
  eval: 'eval'
} as const

/** File names of a diffusers model folder (config.json + weights), as the demo VAE and exported DiT write them. */
export const diffusersFiles = {config: 'config.json', weights: 'diffusion_pytorch_model.safetensors'} as const

/** Files every stage folder may hold: its manifest (runStage), its measured figures and, for a
 *  training stage, its per-step losses (src/train/losses-log.ts). */
export const stageFiles = {manifest: 'manifest.json', metrics: 'metrics.json', losses: 'losses.jsonl'} as const

/** <stage>/manifest.json for a stage folder given relative to the run directory. */
export const stageManifest = (runDir: string, stageDir: string): string => join(runDir, stageDir, stageFiles.manifest)

export function runLayout(runDir: string) {
  const at = (...parts: string[]): string => join(runDir, ...parts)
  const captions = at(stageDirs.caption)
  const visual = at(stageDirs.visual)
  const text = at(stageDirs.text)
  const dit = at(stageDirs.dit)
  const samples = at(stageDirs.samples)
  const classify = at(stageDirs.classify)
  const evalDir = at(stageDirs.eval)
  const captionParts = join(captions, 'parts')
  const sampleParts = join(samples, 'parts')
  return {
    root: runDir,
    /** train/val/test assignment, shared by every stage that splits the dataset */
    split: at('split.json'),
    /** `medgen run`'s record: config file, backend, per-stage timings */
    runRecord: at('run.json'),
    /** the dataset a command was given (`medgen caption DIR`), which later commands reuse */
    dataset: at('dataset.json'),
    report: at('report.html'),
    /** where `medgen synth` writes when synth.out is unset, and where stages look for the dataset */
    defaultDataset: at('data'),
    cache: {
      text: at('cache', 'text'),
      fid: at('cache', 'fid'),
      latents: at('cache', 'latents')
    },
    captions: {
      dir: captions,
      jsonl: join(captions, 'captions.jsonl'),
      failures: join(captions, 'failures.jsonl'),
      metadataCsv: join(captions, 'metadata.csv'),
      /** `medgen caption --shard i/n` output, joined by `medgen merge captions` */
      parts: {
        dir: captionParts,
        jsonl: (shard: Shard): string => join(captionParts, `${partName(shard)}.jsonl`),
        failures: (shard: Shard): string => join(captionParts, `${partName(shard)}.failures.jsonl`),
        /** the shard's stage folder (its manifest), relative to the run dir */
        stageDir: (shard: Shard): string => join(stageDirs.caption, 'parts', partName(shard))
      }
    },
    visual: {
      dir: visual,
      model: join(visual, 'model.safetensors'),
      features: join(visual, 'features.safetensors'),
      metrics: join(visual, stageFiles.metrics),
      grid: join(visual, 'grid.png'),
      lossCurves: join(visual, 'loss-curves.png'),
      diceCurve: join(visual, 'dice-curve.png'),
      losses: join(visual, stageFiles.losses),
      checkpoints: join(visual, 'checkpoints')
    },
    text: {
      dir: text,
      model: join(text, 'model.safetensors'),
      features: join(text, 'features.safetensors'),
      metrics: join(text, stageFiles.metrics),
      tsne: join(text, 'tsne.png'),
      losses: join(text, stageFiles.losses),
      checkpoints: join(text, 'checkpoints')
    },
    dit: {
      dir: dit,
      /** what generate needs to rebuild the model: base, conditioning, spaces, LoRA settings */
      meta: join(dit, 'dit.json'),
      lora: join(dit, 'lora.safetensors'),
      adapterConfig: join(dit, 'adapter_config.json'),
      hffm: join(dit, 'hffm.safetensors'),
      metrics: join(dit, stageFiles.metrics),
      lossPlot: join(dit, 'loss.png'),
      losses: join(dit, stageFiles.losses),
      checkpoints: join(dit, 'checkpoints'),
      /** the demo's VAE when dit.vae.train (a diffusers folder), its per-step losses and checkpoints */
      vae: join(dit, 'vae'),
      vaeLosses: join(dit, 'vae-losses.jsonl'),
      vaeCheckpoints: join(dit, 'vae-checkpoints'),
      /** the whole transformer when trained from scratch (a diffusers folder) */
      transformer: join(dit, 'transformer')
    },
    samples: {
      dir: samples,
      manifest: join(samples, 'manifest.jsonl'),
      summary: join(samples, 'summary.json'),
      classDir: (cls: string): string => join(samples, cls),
      image: (cls: string, id: string): string => join(samples, cls, `${id}.png`),
      contactSheet: (cls: string): string => join(samples, `contact-${cls}.png`),
      /** the control figure (generate.controlGrid) */
      controlGrid: join(samples, 'control-grid.png'),
      parts: {
        dir: sampleParts,
        manifest: (shard: Shard): string => join(sampleParts, `manifest-${shard.index}-of-${shard.count}.jsonl`),
        /** the shard's stage folder (its manifest), relative to the run dir */
        stageDir: (shard: Shard): string => join(stageDirs.samples, 'parts', `part-${shard.index}-of-${shard.count}`)
      }
    },
    classify: {
      dir: classify,
      /** the `real`-protocol classifier of the first seed; eval's dfd embeds images with it */
      model: join(classify, 'model.safetensors'),
      metrics: join(classify, stageFiles.metrics),
      table: join(classify, 'table.md'),
      confusion: (protocol: string): string => join(classify, `confusion-${protocol}.png`),
      /** one protocol x seed training: result.json once done (a rerun reuses it), losses.jsonl and its own checkpoints */
      runs: join(classify, 'runs'),
      seedRun: (protocol: string, seedIndex: number) => {
        const dir = join(classify, 'runs', protocol, `seed-${seedIndex}`)
        return {
          dir,
          result: join(dir, 'result.json'),
          losses: join(dir, stageFiles.losses),
          checkpoints: join(dir, 'checkpoints')
        }
      }
    },
    eval: {
      dir: evalDir,
      metrics: join(evalDir, stageFiles.metrics)
    }
  }
}

/** The dataset the stages read: data.path, else where synth wrote (synth.out, else <run>/data). */
export function datasetPathOf(config: MedgenConfig): string {
  return config.data.path || config.synth.out || runLayout(config.run.dir).defaultDataset
}
