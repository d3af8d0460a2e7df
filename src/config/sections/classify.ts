import {section, z} from '../zod-helpers.js'

export const classifySection = section({
  preset: z.enum(['small-cnn', 'resnet18']).default('small-cnn').describe('classifier architecture'),
  protocols: z.array(z.enum(['real', 'real+synthetic', 'synthetic'])).default(['real', 'real+synthetic']).describe('training protocols to compare; always tested on the real test split'),
  seeds: z.number().int().min(1).default(3).describe('seeds per protocol (mean ± std reported)'),
  epochs: z.number().int().min(1).default(10).describe('maximum epochs'),
  batchSize: z.number().int().min(1).default(32).describe('images per step'),
  lr: z.number().positive().default(1e-3).describe('AdamW learning rate'),
  syntheticRatio: z.number().min(0).default(1).describe('synthetic images added per real training image (real+synthetic)'),
}, 'downstream classification (paper §3.2)')
