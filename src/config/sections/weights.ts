import {section, z} from '../zod-helpers.js'

export const weightsSection = section(
  {
    pixart: z
      .string()
      .default('')
      .describe('diffusers PixArt-alpha transformer/ folder (config.json + safetensors); empty = train from scratch'),
    vae: z
      .string()
      .default('')
      .describe('diffusers AutoencoderKL vae/ folder; empty = pixel space, or the VAE dit.vae.train trains'),
    text: z
      .string()
      .default('')
      .describe(
        'Hugging Face BERT/DistilBERT folder (Bio_ClinicalBERT or medicalai/ClinicalBERT); empty = hashed encoder'
      ),
    inception: z
      .string()
      .default('')
      .describe(
        "pt_inception-2015-12-05-6726825d.pth or its safetensors conversion, for FID/KID; empty = pytorch-fid's cached copy in $TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints) if there"
      )
  },
  'local pretrained weights (never downloaded)'
)
