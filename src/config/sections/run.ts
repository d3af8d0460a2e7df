import {section, z} from '../zod-helpers.js'
import {DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_INFLATED_BYTES} from '../../io/limits.js'
import {stageNames} from '../../run/stage-names.js'

export const runSection = section(
  {
    dir: z.string().default('runs/medgen').describe('run directory: every stage reads and writes its artifacts here'),
    seed: z.number().int().min(0).default(42).describe('seed for every random choice (splits, init, noise, sampling)'),
    backend: z
      .enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'])
      .default('auto')
      .describe('tfjs backend; auto tries tfjs-node-gpu, tfjs-node, wasm, cpu in that order'),
    threads: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('wasm threads (0 = one per core not already busy, by the load average at start; at least 1)'),
    stages: z
      .array(z.enum(stageNames))
      .default([...stageNames])
      .describe('stages `medgen run` executes, in pipeline order'),
    maxImagePixels: z
      .number()
      .int()
      .min(1)
      .default(DEFAULT_MAX_IMAGE_PIXELS)
      .describe('largest width×height an input image may declare; larger ones are refused before decoding'),
    maxInflatedBytes: z
      .number()
      .int()
      .min(1)
      .default(DEFAULT_MAX_INFLATED_BYTES)
      .describe('largest size a compressed zip entry (.npz member, torch .pth data.pkl) may inflate to')
  },
  'shared settings of the run'
)
