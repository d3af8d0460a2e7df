// The PixArt and VAE loaders convert each tensor as it is read (test:scale: holding the whole
// host state_dict next to the backend's copy put PixArt-XL-2's load at 6.9 GB RSS). Streaming must
// keep the old checks: a tensor of the wrong shape, a missing one and unexpected ones are
// one-line UserErrors naming the folder and tensor, and a failed load leaves no tensor behind.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {expectUserError} from '../helpers/user-error.js'
import {TINY_PIXART, writePixArtFolder, writeVaeFolder} from '../helpers/model-folders.js'
import {loadPixArt} from '../../src/models/pixart/load.js'
import {loadVae} from '../../src/models/vae/load.js'
import {countPixArtParams} from '../../src/models/pixart/transformer.js'

/** Rewrites config.json with some keys changed, so the weights no longer match it. */
function editConfig(folder: string, changes: Record<string, unknown>): void {
  const path = join(folder, 'config.json')
  writeFileSync(path, JSON.stringify({...JSON.parse(readFileSync(path, 'utf8')), ...changes}))
}

async function expectLoadError(load: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  const before = tf.memory().numTensors
  await expectUserError(load, pattern)
  expect(tf.memory().numTensors, 'tensors left behind by a failed load').to.equal(before)
}

describe('dit: PixArt and VAE loaders convert tensor by tensor', function () {
  this.timeout(60_000)
  const dir = tmpDir('medgen-load-')
  before(async () => {
    await useTestBackend()
  })

  it('fp16 shards load once as float32, every tensor in tfjs layout', async () => {
    const folder = join(dir, 'ok')
    await writePixArtFolder(folder, TINY_PIXART, 'F16', 4_000)
    const before = tf.memory().numTensors
    const {params} = await loadPixArt(folder)
    expect(tf.memory().numTensors - before).to.equal(params.size)
    expect([...params.values()].reduce((a, t) => a + t.size, 0)).to.equal(countPixArtParams(TINY_PIXART))
    expect(params.get('transformer_blocks.0.attn1.to_q.weight')!.shape).to.deep.equal([16, 16])
    expect(params.get('pos_embed.proj.weight')!.shape).to.deep.equal([2, 2, 4, 16]) // OIHW -> HWIO
    for (const t of params.values()) t.dispose()
  })

  it('wrong shape, missing and unexpected tensors: UserErrors, nothing left on the backend', async () => {
    const shape = join(dir, 'shape')
    await writePixArtFolder(shape, TINY_PIXART, 'F16', 4_000)
    editConfig(shape, {caption_channels: 10})
    await expectLoadError(
      () => loadPixArt(shape),
      /shape: tensor caption_projection\.linear_1\.weight has shape \[16,12\], config expects \[16,10\]/
    )
    const missing = join(dir, 'missing')
    await writePixArtFolder(missing, TINY_PIXART, 'F32')
    editConfig(missing, {num_layers: 3})
    await expectLoadError(() => loadPixArt(missing), /missing: missing tensor transformer_blocks\.2\./)
    const extra = join(dir, 'extra')
    await writePixArtFolder(extra, TINY_PIXART, 'F32')
    editConfig(extra, {num_layers: 1})
    await expectLoadError(
      () => loadPixArt(extra),
      /extra: unexpected tensors for this config, e.g. transformer_blocks\.1\./
    )
    const vae = join(dir, 'vae')
    await writeVaeFolder(
      vae,
      {
        in_channels: 3,
        out_channels: 3,
        latent_channels: 4,
        block_out_channels: [8, 16],
        layers_per_block: 1,
        norm_num_groups: 4,
        scaling_factor: 0.18215
      },
      'BF16'
    )
    editConfig(vae, {block_out_channels: [16, 16]})
    await expectLoadError(
      () => loadVae(vae),
      /vae: encoder\.conv_in has 8 outputs, config block_out_channels\[0\] is 16/
    )
  })
})
