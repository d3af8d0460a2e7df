import {section, z} from '../zod-helpers.js'

export const evalSection = section(
  {
    metrics: z
      .array(z.enum(['fid', 'kid', 'hfd', 'dfd', 'control']))
      .default(['fid', 'kid', 'hfd', 'dfd', 'control'])
      .describe('metrics to compute (those that cannot run say why)'),
    samples: z
      .string()
      .default('')
      .describe('folder of generated images to score; empty = <run>/samples (from medgen generate)'),
    real: z.string().default('').describe('folder of real images; empty = the dataset split named by realSplit'),
    featuresReal: z
      .string()
      .default('')
      .describe(
        'precomputed real features or pytorch-fid stats (.safetensors/.npy/.npz); replaces Inception on the real side'
      ),
    featuresGen: z.string().default('').describe('precomputed generated features (.safetensors/.npy/.npz)'),
    realSplit: z
      .enum(['test', 'train', 'all'])
      .default('test')
      .describe('real images compared against (docs/REFERENCE.md §7: the test split)'),
    kidSubsets: z.number().int().min(1).default(100).describe('KID subsets'),
    kidSubsetSize: z.number().int().min(0).default(0).describe('KID subset size; 0 = min(1000, n_real, n_gen)'),
    resize: z
      .enum(['bilinear', 'bilinear-antialias'])
      .default('bilinear')
      .describe('resize to 299 for Inception (pytorch-fid: bilinear, no antialias)'),
    batchSize: z.number().int().min(1).default(8).describe('images per Inception forward pass'),
    cache: z
      .boolean()
      .default(true)
      .describe('cache Inception features under <run>/cache/fid, keyed by image content, weights and resize mode'),
    hfdSize: z
      .number()
      .int()
      .min(8)
      .max(1024)
      .refine(v => (v & (v - 1)) === 0, 'must be a power of two')
      .default(64)
      .describe('hfd: side images are resized to before the DFT (power of two)'),
    hfdBandLow: z.number().min(0).max(1).default(0.25).describe('hfd: lowest kept frequency, as a fraction of Nyquist'),
    controlReal: z
      .number()
      .int()
      .min(0)
      .default(200)
      .describe(
        'control: real test images (with caption attributes) scored for ceiling.real / ceiling.decoded; 0 = none'
      ),
    hfdBandHigh: z.number().min(0).max(1).default(1).describe('hfd: highest kept frequency, as a fraction of Nyquist')
  },
  'evaluation (paper Table 1, docs/DESIGN.md "Metrics")'
)
