// Inference memory does not grow with depth (test:scale found BERT-base over 16 captions at 3.2 GB
// tracked: one tf.tidy around the whole forward kept every layer's intermediates until the end).
// PixArt blocks, VAE resnet/mid blocks and BERT/DistilBERT layers each run in a tidy of their own,
// so a deep model's peak over its weights stays near a shallow one's. Measured with the kernel
// recorder (peak of the bytes tfjs tracks), on 1-deep and 8-deep models of the same width.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {writeBertFolder, writePixArtFolder, writeVaeFolder} from '../helpers/model-folders.js'
import {installKernelRecorder} from '../../src/backend/kernel-recorder.js'
import {loadPixArt} from '../../src/models/pixart/load.js'
import {pixartForward} from '../../src/models/pixart/transformer.js'
import {loadVae} from '../../src/models/vae/load.js'
import {vaeDecode, vaeEncode} from '../../src/models/vae/autoencoder.js'
import {disposeWeights, loadEncoderWeights} from '../../src/models/bert/load.js'
import {runEncoder} from '../../src/models/bert/run.js'
import type {PixArtConfig} from '../../src/models/pixart/config.js'

/** Peak bytes tfjs tracked while `run` ran, over what was allocated before it. */
function peakOver(run: () => tf.Tensor): number {
  const rec = installKernelRecorder()
  const before = tf.memory().numBytes
  try {
    tf.dispose(run())
    return rec.peakBytes() - before
  } finally {
    rec.uninstall()
  }
}

describe('dit/text: inference memory does not grow with the number of blocks', function () {
  this.timeout(120_000)
  const dir = tmpDir('medgen-depth-')
  before(async () => {
    await useTestBackend()
  })

  it('PixArt: 8 blocks peak under 1.5x of 1 block (was ~8x)', async () => {
    const peak: number[] = []
    for (const layers of [1, 8]) {
      const cfg: PixArtConfig = {
        num_layers: layers,
        num_attention_heads: 2,
        attention_head_dim: 16,
        in_channels: 4,
        out_channels: 8,
        patch_size: 2,
        sample_size: 16,
        cross_attention_dim: 32,
        caption_channels: 8,
        norm_eps: 1e-6
      }
      await writePixArtFolder(join(dir, `pixart-${layers}`), cfg, 'F32')
      const {params} = await loadPixArt(join(dir, `pixart-${layers}`))
      const x = tf.randomNormal([2, 32, 32, 4], 0, 1, 'float32', 1) as tf.Tensor4D
      const context = tf.randomNormal([2, 2, 8], 0, 1, 'float32', 2) as tf.Tensor3D
      peak.push(peakOver(() => tf.tidy(() => pixartForward({params}, cfg, {x, timesteps: 500, context}).sample)))
      tf.dispose([x, context, ...params.values()])
    }
    expect(peak[1], `peak over the weights: 1 block ${peak[0]} B, 8 blocks ${peak[1]} B`).to.be.below(1.5 * peak[0])
  })

  it('VAE: 4 resnets per block peak under 1.5x of 1 resnet', async () => {
    const peak: number[] = []
    for (const layers of [1, 4]) {
      const cfg = {
        in_channels: 3,
        out_channels: 3,
        latent_channels: 4,
        block_out_channels: [16, 16],
        layers_per_block: layers,
        norm_num_groups: 4,
        scaling_factor: 0.18215
      }
      await writeVaeFolder(join(dir, `vae-${layers}`), cfg, 'F32')
      const {config, params} = await loadVae(join(dir, `vae-${layers}`))
      const image = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D
      peak.push(peakOver(() => tf.tidy(() => vaeDecode({params}, config, vaeEncode({params}, config, image).mean))))
      tf.dispose([image, ...params.values()])
    }
    expect(peak[1], `peak over the weights: ${peak.join(' B, ')} B`).to.be.below(1.5 * peak[0])
  })

  it('BERT: 8 layers peak under 1.5x of 1 layer', async () => {
    const peak: number[] = []
    for (const layers of [1, 8]) {
      await writeBertFolder(
        join(dir, `bert-${layers}`),
        {vocab: 50, hidden: 32, layers, heads: 2, intermediate: 128, positions: 64},
        'safetensors'
      )
      const {config, weights} = await loadEncoderWeights(join(dir, `bert-${layers}`), {expectArch: 'bert'})
      const inputIds = tf.tensor2d(
        Int32Array.from({length: 16 * 64}, (_, i) => i % 50),
        [16, 64],
        'int32'
      )
      const attentionMask = tf.onesLike(inputIds)
      peak.push(
        peakOver(() => {
          const out = runEncoder(config, weights, {inputIds, attentionMask})
          out.poolerOutput?.dispose()
          return out.lastHiddenState
        })
      )
      tf.dispose([inputIds, attentionMask])
      disposeWeights(weights)
    }
    expect(peak[1], `peak over the weights: ${peak.join(' B, ')} B`).to.be.below(1.5 * peak[0])
  })
})
