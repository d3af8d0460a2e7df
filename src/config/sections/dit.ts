import {section, z} from '../zod-helpers.js'

export const ditSection = section(
  {
    preset: z
      .enum(['pixart-xl-512', 'pixart-small', 'pixart-tiny', 'pixart-demo', 'pixart-demo-latent'])
      .default('pixart-demo')
      .describe(
        'transformer size; pixart-demo works in pixel space on CPU, pixart-demo-latent on the latents of dit.vae.train'
      ),
    vae: section(
      {
        train: z
          .boolean()
          .default(false)
          .describe(
            'with no weights.vae: train a small AutoencoderKL from scratch first and run the DiT on its latents (the demo)'
          ),
        channels: z
          .array(z.number().int().min(1))
          .min(1)
          .max(4)
          .default([16, 32])
          .describe('block_out_channels; the latent side is the image side / 2^(blocks-1)'),
        latentChannels: z
          .number()
          .int()
          .min(1)
          .default(4)
          .describe("latent channels (SD VAE: 4); must equal the preset's in_channels"),
        groups: z.number().int().min(1).default(8).describe('GroupNorm groups; must divide every entry of channels'),
        steps: z.number().int().min(1).default(250).describe('Adam steps (L1 + KL)'),
        batchSize: z.number().int().min(1).default(8).describe('images per step'),
        lr: z.number().positive().default(3e-3).describe('Adam learning rate'),
        klWeight: z.number().min(0).default(1e-6).describe('weight of the KL term (SD VAE: 1e-6)')
      },
      "the demo's own VAE, trained by finetune-dit when weights.vae is not given"
    ),
    conditioning: z
      .enum(['hffm', 'concat', 'text', 'class'])
      .default('hffm')
      .describe('condition tokens: hffm (paper), concat, text (w/o disentanglement), class'),
    lora: section(
      {
        rank: z.number().int().min(1).max(1024).default(8).describe('LoRA rank (authors: 8)'),
        alpha: z
          .number()
          .positive()
          .nullable()
          .default(null)
          .describe(
            "LoRA alpha; scale = alpha / rank; null = the rank (scale 1, as diffusers' scripts set it; authors: 8 with rank 8)"
          ),
        targets: z
          .enum(['broad', 'attention-only'])
          .default('broad')
          .describe("broad = the authors' target list (docs/REFERENCE.md §5.3); attention-only = the paper's wording")
      },
      'low-rank adapters'
    ),
    prediction: z
      .enum(['epsilon', 'v', 'auto'])
      .default('auto')
      .describe(
        'training target of the first C output channels: auto = v for a model trained from scratch, epsilon with weights.pixart (pretrained PixArt predicts epsilon)'
      ),
    condDropout: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe('probability of replacing the condition by the learned null pair (enables guidance)'),
    steps: z.number().int().min(1).default(2000).describe('optimizer steps'),
    batchSize: z.number().int().min(1).default(8).describe('images per step'),
    lr: z.number().positive().default(1e-4).describe('AdamW learning rate'),
    weightDecay: z.number().min(0).default(0.01).describe('AdamW decoupled weight decay'),
    warmupSteps: z.number().int().min(0).default(500).describe('linear warm-up steps of the cosine schedule'),
    gradClip: z.number().positive().default(1).describe('max global gradient norm'),
    gradientCheckpointing: z
      .enum(['auto', 'on', 'off'])
      .default('auto')
      .describe(
        'recompute each transformer block in the backward pass instead of storing it (authors: on); auto = on when the blocks would keep over ~1 GB'
      ),
    checkpointingSteps: z.number().int().min(1).default(500).describe('steps between checkpoints'),
    keepCheckpoints: z.number().int().min(1).default(10).describe('checkpoints kept (authors: 10)'),
    colourLoss: section(
      {
        mode: z
          .enum(['off', 'logged', 'train'])
          .default('train')
          .describe("off, logged (value only, the authors' behaviour) or train (differentiable)"),
        weight: z.number().min(0).default(0.05).describe('weight of the colour loss'),
        every: z.number().int().min(1).default(1).describe('apply every N steps')
      },
      'colour-distribution loss (paper §2.3)'
    )
  },
  'PixArt-alpha LoRA fine-tuning with HFFM (paper §2.2-2.3, docs/REFERENCE.md §5)'
)
