import {section, z} from '../zod-helpers.js'

export const classifySection = section(
  {
    preset: z
      .enum(['small-cnn', 'resnet18'])
      .default('small-cnn')
      .describe('classifier architecture (small-cnn: embedded default; resnet18: real datasets)'),
    protocols: z
      .array(z.enum(['real', 'real+synthetic', 'synthetic']))
      .default(['real', 'real+synthetic'])
      .describe('training protocols to compare; always tested on the real test split'),
    seeds: z.number().int().min(1).default(3).describe('seeds per protocol (mean ± std reported)'),
    imageSize: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('classifier input side in pixels (0: data.imageSize); smaller is cheaper'),
    epochs: z.number().int().min(1).default(10).describe('maximum epochs'),
    batchSize: z.number().int().min(1).default(32).describe('images per step'),
    lr: z.number().positive().default(1e-3).describe('AdamW learning rate'),
    weightDecay: z.number().min(0).default(1e-4).describe('AdamW decoupled weight decay'),
    syntheticRatio: z
      .number()
      .min(0)
      .default(1)
      .describe('synthetic images added per real training image (real+synthetic)'),
    balanced: z
      .boolean()
      .default(true)
      .describe(
        'class-balanced sampling (each draw: a class uniformly, then one of its images); off, imbalanced data collapses onto the majority class'
      ),
    standardize: z
      .boolean()
      .default(true)
      .describe("standardise inputs per channel with the training set's mean and std (stored with the model)"),
    augment: z.boolean().default(true).describe('random horizontal/vertical flips and reflect-padded crops'),
    patience: z.number().int().min(1).default(3).describe('early stopping: epochs without a lower validation loss'),
    checkpointEvery: z.number().int().min(1).default(200).describe('steps between checkpoints (resume with --resume)')
  },
  'downstream classification (paper §3.2)'
)
