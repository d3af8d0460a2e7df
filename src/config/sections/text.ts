import {section, z} from '../zod-helpers.js'

export const textSection = section(
  {
    encoder: z
      .enum(['hashed', 'bert', 'distilbert', 'auto'])
      .default('auto')
      .describe('auto = the weights.text folder if set, else the hashed n-gram encoder'),
    pooling: z
      .enum(['mean', 'cls'])
      .default('mean')
      .describe('sentence embedding pooling (authors: attention-mask mean)'),
    hashedDim: z.number().int().min(8).default(768).describe('width of the hashed n-gram encoder'),
    epochs: z.number().int().min(1).default(60).describe('training epochs (authors: 60)'),
    batchSize: z.number().int().min(1).default(32).describe('captions per step (authors: 32)'),
    lr: z.number().positive().default(1e-4).describe('Adam learning rate (authors: 1e-4)'),
    alignWeight: z.number().min(0).default(1).describe('weight of the cosine alignment loss'),
    reconWeight: z.number().min(0).default(0.5).describe('weight of the text-embedding reconstruction loss'),
    encodeBatchSize: z
      .number()
      .int()
      .min(1)
      .default(16)
      .describe('captions per frozen-encoder forward pass (each batch padded to its longest caption)'),
    checkpointEvery: z
      .number()
      .int()
      .min(1)
      .default(200)
      .describe('optimizer steps between checkpoints (also written at the end and on SIGINT/SIGTERM/SIGUSR1)'),
    keepCheckpoints: z.number().int().min(1).default(2).describe('checkpoints kept in text/checkpoints'),
    tsnePoints: z
      .number()
      .int()
      .min(0)
      .default(300)
      .describe('captions drawn in text/tsne.png (each gives a text and a visual point; 0 = no figure)'),
    tsneIterations: z.number().int().min(50).default(750).describe('t-SNE gradient steps'),
    tsnePerplexity: z.number().positive().default(30).describe('t-SNE perplexity')
  },
  'text disentangler (paper §2.2, docs/REFERENCE.md §4)'
)
