import {section, z} from '../zod-helpers.js'

export const visualSection = section(
  {
    preset: z
      .enum(['sdnet-small', 'sdnet-224'])
      .default('sdnet-small')
      .describe(
        "sdnet-224 = the authors' 224 px / ndf 64; sdnet-small = 64 px / ndf 16 (head and decoder widths scale with ndf)"
      ),
    imageSize: z
      .number()
      .int()
      .min(16)
      .max(1024)
      .optional()
      .describe("override the preset's image side (a multiple of 16)"),
    ndf: z.number().int().min(2).max(256).optional().describe("override the preset's U-Net base width"),
    adain: z
      .enum(['scalar', 'learned'])
      .default('learned')
      .describe(
        "AdaIN form: learned = per-channel scale/shift from z (3 epochs: val Dice 0.963, style-swap mask IoU 0.84); scalar = the authors' z mean/std on every channel (0.938 / 0.71, but trains faster: the demo's one epoch); docs/visual.md"
      ),
    epochs: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe(
        'training epochs (default fits the demo budget: val Dice 0.91 on 1,000 synthetic images at batch 8; authors: 60)'
      ),
    batchSize: z
      .number()
      .int()
      .min(1)
      .default(8)
      .describe(
        'images per step (authors: 4; 8 reached val Dice 0.91 and recon L1 0.24 in one epoch where 16 reached 0.81-0.87 and 0.40)'
      ),
    lr: z.number().positive().default(2e-3).describe('Adam learning rate (authors: 1e-4; the demo budget needs more)'),
    checkpointEvery: z.number().int().min(1).default(200).describe('steps between checkpoints'),
    keepCheckpoints: z.number().int().min(1).default(3).describe('checkpoints kept'),
    anatomyVector: z
      .enum(['occupancy', 'occupancy+shape'])
      .default('occupancy')
      .describe(
        "visual anatomy target of align-text: occupancy = the authors' 8-d channel occupancy (docs/REFERENCE.md §4.2; keeps size, drops shape; passes both disentanglement probes on the default pipeline); occupancy+shape = per channel [occupancy, compactness, elongation], 24-d (shape probe 0.99, but the wider head also reads colour; docs/RESULTS.md)"
      ),
    gridImages: z.number().int().min(2).max(64).default(8).describe('rows of the reconstruction / style-swap grid'),
    perceptual: z
      .object({
        weights: z
          .string()
          .default('')
          .describe(
            'torchvision VGG-19 weights (vgg19-dcbb9e9d.pth, or .safetensors with its features.* keys) for the perceptual loss, weight 0.1 (docs/REFERENCE.md §3.4); empty = off'
          )
      })
      .strict()
      .prefault({})
      .describe('optional perceptual loss')
  },
  'visual disentangler (paper §2.2, docs/REFERENCE.md §3)'
)
