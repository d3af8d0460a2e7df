import {section, z} from '../zod-helpers.js'

export const dataSection = section(
  {
    path: z
      .string()
      .default('')
      .describe(
        'dataset folder (HAM10000, Kvasir-SEG, BUSI, <class>/<image> or flat layout), relative to the working directory; empty = the one `medgen caption DIR` recorded in <run>/dataset.json, else synth.out'
      ),
    layout: z
      .enum(['auto', 'ham10000', 'kvasir-seg', 'busi', 'folder', 'flat'])
      .default('auto')
      .describe('force a dataset layout instead of detecting it (flat: images directly in the folder, one class)'),
    kind: z
      .enum(['auto', 'dermoscopy', 'polyp', 'ultrasound'])
      .default('auto')
      .describe('image modality, picks prompts and attribute vocabularies'),
    imageSize: z
      .number()
      .int()
      .min(8)
      .max(4096)
      .default(64)
      .describe('side in pixels images are resized to for training'),
    testFraction: z.number().gt(0).lt(1).default(0.2).describe('fraction held out as the test split (paper §3.1: 8:2)'),
    valFraction: z.number().min(0).lt(1).default(0.1).describe('fraction of the train split used for validation'),
    splitSeed: z
      .number()
      .int()
      .min(-1)
      .default(-1)
      .describe(
        'seed of the train/val/test split; -1 = run.seed (a benchmark repeating training over seeds keeps one split)'
      ),
    onCorrupt: z
      .enum(['error', 'skip'])
      .default('error')
      .describe('a corrupt image stops the stage (error) or is reported and skipped (skip)'),
    cache: z
      .boolean()
      .default(true)
      .describe('cache resized images on disk under <run>/cache, keyed by file path, byte size, mtime and target size'),
    fit: z
      .enum(['fill', 'cover'])
      .default('fill')
      .describe('resizing to a square: stretch (fill) or scale and centre-crop (cover)'),
    decodeConcurrency: z
      .number()
      .int()
      .min(1)
      .default(4)
      .describe('images decoded and resized in parallel by the batch loader'),
    prefetch: z
      .number()
      .int()
      .min(1)
      .default(2)
      .describe('batches the loader prepares ahead of training (bounds memory)')
  },
  'the dataset and its split'
)
