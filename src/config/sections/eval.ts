import {section, z} from '../zod-helpers.js'

export const evalSection = section({
  metrics: z.array(z.enum(['fid', 'kid', 'hfd', 'dfd', 'control'])).default(['fid', 'kid', 'hfd', 'dfd', 'control']).describe('metrics to compute (those that cannot run say why)'),
  kidSubsets: z.number().int().min(1).default(100).describe('KID subsets'),
  kidSubsetSize: z.number().int().min(0).default(0).describe('KID subset size; 0 = min(1000, n_real, n_gen)'),
  resize: z.enum(['bilinear', 'bilinear-antialias']).default('bilinear').describe('resize to 299 for Inception (pytorch-fid: bilinear, no antialias)'),
}, 'evaluation (paper Table 1, DESIGN.md "Metrics")')
