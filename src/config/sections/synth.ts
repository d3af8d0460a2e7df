import {section, z} from '../zod-helpers.js'

export const synthSection = section(
  {
    kind: z
      .enum(['dermoscopy', 'polyp', 'ultrasound'])
      .default('dermoscopy')
      .describe('which real dataset the synthetic one imitates'),
    n: z.number().int().min(1).default(1000).describe('number of images'),
    size: z.number().int().min(16).max(1024).default(64).describe('image side in pixels'),
    placement: z
      .enum(['anywhere', 'centred', 'centred-aligned'])
      .default('anywhere')
      .describe(
        'lesion position: anywhere it fits, centred (within 5% of the side, as dermoscopy is framed), or centred-aligned (centred, major axis horizontal: no orientation to invent)'
      ),
    out: z.string().default('').describe('output folder; empty = <run.dir>/data')
  },
  'synthetic look-alike data with ground-truth attributes (medgen synth)'
)
