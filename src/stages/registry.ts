// The stages, once, in the order of src/run/stage-names.ts: their command, folder, config
// section, one-line summary, paper section, what they read and the artifacts they write. `medgen run`, report.html, the
// commands' --help and the pipeline tables of README.md and docs/ all read this table
// (scripts/stage-tables.ts writes the docs; a test checks they match).
// Stage code is imported lazily (`load`) so that `medgen --help` stays fast.
import type {MedgenConfig} from '../config/schema.js'
import {runLayout, stageDirs} from '../run/layout.js'
import {stageNames, type StageName} from '../run/stage-names.js'
import type {StageSpec} from './stage.js'

/** An artifact later stages read: its path relative to the run dir and what it holds. */
export interface Contract {
  path: string
  content: string
}

export interface StageInfo {
  name: StageName
  /** folder of its outputs and manifest under the run dir */
  dir: string
  /** its config section (`medgen config schema` documents every key) */
  section: keyof MedgenConfig
  summary: string
  /** where the paper describes it ('' when it is medgen's own) */
  paper: string
  /** the command line the docs show for it */
  example: string
  /** what it reads, in words */
  reads: string
  /** what it writes that other stages (or people) rely on */
  writes: Contract[]
  /** what else it writes, in words (figures, checkpoints) */
  alsoWrites?: string
  load: () => Promise<StageSpec>
}

const at = runLayout('')

const info: Record<StageName, Omit<StageInfo, 'name'>> = {
  'synth': {
    dir: stageDirs.synth,
    section: 'synth',
    paper: '',
    summary: 'Write a synthetic dataset that looks like a real one, with masks and ground-truth attributes.',
    example: 'medgen synth --out ./ham10000',
    reads: '—',
    writes: [],
    alsoWrites: 'a dataset in HAM10000 / Kvasir-SEG / BUSI layout + `attributes.jsonl`',
    load: async () => (await import('./synth.js')).synthStage
  },
  'caption': {
    dir: stageDirs.caption,
    section: 'caption',
    paper: '§2.1',
    summary: 'Caption every image of a dataset with anatomy and style attributes (paper §2.1).',
    example: 'medgen caption ./ham10000',
    reads: 'dataset',
    writes: [
      {
        path: at.captions.jsonl,
        content:
          'one JSON per image: `{id, file, class, split, attributes, anatomy, style, caption, source, model?}`; readers validate with `captionLineSchema` (src/caption/records.ts). A rerun under other settings stages its lines in `.captions.jsonl.next` until complete'
      },
      {path: at.captions.metadataCsv, content: '`file_name,text` (the Hugging Face imagefolder convention)'}
    ],
    load: async () => (await import('./caption.js')).captionStage
  },
  'train-visual': {
    dir: stageDirs.visual,
    section: 'visual',
    paper: '§2.2, Eq. 1',
    summary:
      'Train the visual disentangler: anatomy U-Net + segmentation head + style VAE + AdaIN decoder (paper §2.2, Eq. 1).',
    example: 'medgen train-visual',
    reads: 'dataset',
    writes: [
      {path: at.visual.model, content: 'SDNet weights (PyTorch names), `__metadata__.config`'},
      {
        path: at.visual.features,
        content:
          '`anatomy` [N,8] channel occupancy or [N,24] occupancy+shape (`visual.anatomyVector`, recorded in `__metadata__.anatomyVector`), `style` [N,8] mu; `__metadata__.ids` JSON list'
      }
    ],
    alsoWrites: 'reconstruction grid, loss curves, `visual/metrics.json`',
    load: async () => (await import('./train-visual.js')).trainVisualStage
  },
  'align-text': {
    dir: stageDirs.text,
    section: 'text',
    paper: '§2.2, Fig. 3',
    summary: 'Align caption embeddings with the visual anatomy and style features (paper §2.2, Fig. 3).',
    example: 'medgen align-text',
    reads: 'captions, visual features',
    writes: [
      {path: at.text.model, content: 'text heads (`anatomy_encoder.0.weight`, ...), `__metadata__.encoder`'},
      {
        path: at.text.features,
        content: '`anatomy` [N,8] or [N,24] (as the visual features), `style` [N,8]; `__metadata__.ids`'
      }
    ],
    alsoWrites: '`text/tsne.png`, `text/metrics.json`',
    load: async () => (await import('./align-text.js')).alignTextStage
  },
  'finetune-dit': {
    dir: stageDirs.dit,
    section: 'dit',
    paper: '§2.2-2.3',
    summary:
      'Fine-tune a PixArt-alpha transformer with LoRA, conditioned by the HFFM anatomy and style tokens (paper §2.2-2.3).',
    example: 'medgen finetune-dit --rank 8',
    reads: 'dataset, captions, text model',
    writes: [
      {
        path: at.dit.meta,
        content:
          'how generate rebuilds the model: space, transformer and conditioner configs, class names, text encoder'
      },
      {
        path: at.dit.lora,
        content:
          'peft names `transformer.<module>.lora_A.weight`, with `adapter_config.json` beside it (a base transformer was given)'
      },
      {path: at.dit.hffm, content: "the HFFM condition module (the authors' names) and the learned null pair"}
    ],
    alsoWrites:
      '`dit/transformer/` (trained from scratch), `dit/vae/` (dit.vae.train), `dit/checkpoints/`, loss curve, `dit/metrics.json`',
    load: async () => (await import('./finetune-dit.js')).finetuneDitStage
  },
  'generate': {
    dir: stageDirs.samples,
    section: 'generate',
    paper: '§2.3',
    summary: 'Generate images from free text, from captions, per class or over the attribute grid (paper §2.3).',
    example: 'medgen generate',
    reads: 'text + dit (+ prompts, captions or attribute grid)',
    writes: [
      {path: at.samples.image('<class>', '<id>'), content: 'the generated image'},
      {
        path: at.samples.manifest,
        content:
          'one line per image: `{id, file, class, prompt, seed, sampler, steps, guidance, seconds, source, attributes?}`; `source` `swap` = triples `<stem>-base/-style/-anatomy` on one seed (generate.swapPairs), `control-grid` = cells `control-r<row>-c<col>`'
      },
      {
        path: at.samples.controlGrid,
        content: 'the control figure (generate.controlGrid): one seed, rows change size / shape, columns colour'
      }
    ],
    alsoWrites: '`samples/summary.json`, a contact sheet per class',
    load: async () => (await import('./generate.js')).generateStage
  },
  'classify': {
    dir: stageDirs.classify,
    section: 'classify',
    paper: '§3.2',
    summary: 'Downstream classification with and without synthetic augmentation (paper §3.2).',
    example: 'medgen classify',
    reads: 'real split (+ samples)',
    writes: [
      {path: at.classify.metrics, content: 'every value with its definition'},
      {
        path: at.classify.model,
        content: "the `real`-protocol classifier of the first seed (eval's `dfd` embeds images with it)"
      }
    ],
    alsoWrites: '`classify/table.md`, confusion matrices',
    load: async () => (await import('./classify.js')).classifyStage
  },
  'eval': {
    dir: stageDirs.eval,
    section: 'eval',
    paper: 'Table 1',
    summary: 'Score generated images: FID, KID, HFD (two definitions), domain FD and controllability.',
    example: 'medgen eval',
    reads: 'samples + real test split (+ classifier for `dfd`)',
    writes: [
      {
        path: at.eval.metrics,
        content:
          'every value with its definition; `metrics.control` holds accuracy, `shuffled.{withinClass,all}`, `ceiling.{real,decoded}`, `gain.{anatomy,style,perAttribute}` and the swap metrics (src/stages/eval/control.ts)'
      }
    ],
    load: async () => (await import('./eval.js')).evalStage
  }
}

/** Every stage in pipeline order. */
export const stages: StageInfo[] = stageNames.map(name => ({name, ...info[name]}))

export function stageInfo(name: StageName): StageInfo {
  return {name, ...info[name]}
}

export function isStageName(name: string): name is StageName {
  return (stageNames as readonly string[]).includes(name)
}

/**
 * A stage command's --help description: the registry's summary, the command's own prose, then
 * what it writes, so the artifact names in --help are the ones the stage really writes.
 */
export function stageHelp(name: StageName, prose: string): string {
  const s = info[name]
  const files = s.writes.map(w => w.path)
  const also = s.alsoWrites?.replaceAll('`', '')
  const writes = [files.length ? `<run>/${files.join(', <run>/')}` : '', also ?? ''].filter(Boolean).join('; also ')
  return `${s.summary}\n\n${prose}\nWrites ${writes}.`
}
