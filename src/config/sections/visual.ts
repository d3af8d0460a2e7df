import {section, z} from '../zod-helpers.js'

export const visualSection = section({
  preset: z.enum(['sdnet-small', 'sdnet-224']).default('sdnet-small').describe('sdnet-224 = the authors\' 224 px / ndf 64; sdnet-small = 64 px / ndf 16'),
  adain: z.enum(['scalar', 'learned']).default('learned').describe('AdaIN form: scalar (authors) or learned per-channel scale/shift'),
  epochs: z.number().int().min(1).default(10).describe('training epochs'),
  batchSize: z.number().int().min(1).default(16).describe('images per step'),
  lr: z.number().positive().default(1e-4).describe('Adam learning rate (authors: 1e-4)'),
  checkpointEvery: z.number().int().min(1).default(200).describe('steps between checkpoints'),
  keepCheckpoints: z.number().int().min(1).default(3).describe('checkpoints kept'),
}, 'visual disentangler (paper §2.2, REFERENCE.md §3)')
