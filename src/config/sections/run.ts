import {section, z} from '../zod-helpers.js'

export const runSection = section({
  dir: z.string().default('runs/medgen').describe('run directory: every stage reads and writes its artifacts here'),
  seed: z.number().int().min(0).default(42).describe('seed for every random choice (splits, init, noise, sampling)'),
  backend: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto')
    .describe('tfjs backend; auto tries tfjs-node-gpu, tfjs-node, wasm, cpu in that order'),
  threads: z.number().int().min(0).default(0).describe('wasm threads (0 = number of cores)'),
  stages: z.array(z.enum(['synth', 'caption', 'train-visual', 'align-text', 'finetune-dit', 'generate', 'classify', 'eval']))
    .default(['synth', 'caption', 'train-visual', 'align-text', 'finetune-dit', 'generate', 'classify', 'eval'])
    .describe('stages `medgen run` executes, in pipeline order'),
}, 'shared settings of the run')
