import {section, z} from '../zod-helpers.js'

export const generateSection = section(
  {
    sampler: z
      .enum(['dpm-solver++', 'ddim', 'ddpm'])
      .default('dpm-solver++')
      .describe('sampler (PixArt default: DPM-Solver++ 2M)'),
    steps: z.number().int().min(1).max(1000).default(20).describe('sampling steps (authors: 50)'),
    guidance: z.number().min(0).default(4.5).describe('classifier-free guidance scale; 0 or 1 disables it'),
    batchSize: z.number().int().min(1).default(8).describe('images per forward pass'),
    perClass: z.number().int().min(0).default(8).describe('images per class when no other input is given'),
    swapPairs: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "medgen run (and medgen generate with no prompt flags): per class, N base prompts each with a style-swap and an anatomy-swap twin on the same seed (eval's swap metrics)"
      ),
    controlGrid: z
      .boolean()
      .default(false)
      .describe(
        'medgen run (and medgen generate with no prompt flags): also generate the control figure (one seed; rows vary size and shape, columns colour) as samples/control-grid.png'
      )
  },
  'sampling (paper §2.3, docs/REFERENCE.md §6)'
)
