// `medgen check-weights` (issue 24 item 1) on tiny random weights written in the public layouts:
// PixArt as fp16 shards + index and as one fp32 file, the VAE in bf16, BERT as a torch
// pytorch_model.bin with the BertForPreTraining prefix. Each loads, runs its forward (PixArt also
// one LoRA step) with finite results, and the report carries counts, dtypes, memory and verdicts.
import {expect} from 'chai'
import * as tf from '@tensorflow/tfjs'
import {spawnSync} from 'node:child_process'
import {writeFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {useTestBackend} from '../helpers/backend.js'
import {tmpDir} from '../helpers/tmp.js'
import {expectUserError} from '../helpers/user-error.js'
import {
  TINY_PIXART,
  writeBertFolder,
  writePixArtFolder,
  writeVaeFolder,
  bertPretrainingShapes,
  type BertSize
} from '../helpers/model-folders.js'
import {
  checkWeights,
  fitsLines,
  formatCheckReport,
  isOutOfMemory,
  phaseFailed,
  type CheckReport
} from '../../src/check/check-weights.js'
import {pixartPreset} from '../../src/models/pixart/config.js'
import {countPixArtParams} from '../../src/models/pixart/transformer.js'
import {vaeParamShapes} from '../../src/models/vae/init.js'
import type {VaeConfig} from '../../src/models/vae/autoencoder.js'
import {GiB, pixartForwardBytes, pixartLoraStepBytes} from '../../src/check/estimate.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const VAE: VaeConfig = {
  in_channels: 3,
  out_channels: 3,
  latent_channels: 4,
  block_out_channels: [8, 16],
  layers_per_block: 1,
  norm_num_groups: 4,
  scaling_factor: 0.18215
}
const BERT: BertSize = {vocab: 50, hidden: 16, layers: 2, heads: 2, intermediate: 32, positions: 32}
const count = (shapes: Map<string, number[]>): number =>
  [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0)

function phase(r: CheckReport, prefix: string) {
  const p = r.phases.find(x => x.name.startsWith(prefix))
  expect(p, `${prefix} phase in ${r.phases.map(x => x.name).join(', ')}`).to.not.equal(undefined)
  return p!
}

describe('check-weights on the public layouts (tiny random weights)', function () {
  this.timeout(120_000)
  const dir = tmpDir('medgen-check-')
  before(async () => {
    await useTestBackend()
  })

  it('PixArt as fp16 shards + index: counts, forward and one LoRA step', async () => {
    const folder = join(dir, 'pixart-fp16', 'transformer')
    const files = await writePixArtFolder(folder, TINY_PIXART, 'F16', 12_000)
    expect(files.filter(f => f.endsWith('.safetensors')).length).to.be.greaterThan(1)
    // tracked peaks are absolute: tensors other tests of the same process still hold count too
    const baseline = tf.memory().numBytes
    const r = await checkWeights(folder, {size: 64})
    expect(r.kind).to.equal('pixart')
    expect(r.layout).to.equal('sharded')
    expect(r.files.map(f => f.name)).to.include('diffusion_pytorch_model.safetensors.index.json')
    expect(r.parameters).to.equal(countPixArtParams(TINY_PIXART))
    expect(r.dtype).to.equal('F16')
    expect(r.fileBytes).to.be.greaterThan(2 * r.parameters)
    expect(phase(r, 'load').ok, phase(r, 'load').error).to.equal(true)
    // loading holds the weights once as float32 (plus one tensor in flight), not twice
    expect(phase(r, 'load').trackedPeakBytes - baseline).to.be.within(4 * r.parameters, 1.3 * 4 * r.parameters)
    const fwd = phase(r, 'forward 64 px')
    expect(fwd.ok, fwd.error).to.equal(true)
    expect(fwd.detail.outputShape).to.deep.equal([1, 8, 8, 8])
    expect(fwd.trackedPeakBytes).to.be.greaterThan(4 * r.parameters)
    const step = phase(r, 'LoRA step 64 px')
    expect(step.ok, step.error).to.equal(true)
    expect(step.detail.loss).to.be.a('number').and.greaterThan(0)
    // per block 8 attention projections + 2 FF; then proj_out, adaln linear, 2 timestep + 2 caption linears, the patch conv (`proj`)
    expect(step.detail.adapters).to.equal(2 * 10 + 7)
    expect(step.peakRssBytes).to.be.greaterThan(0)
    if (r.backend === 'wasm') expect(step.wasmHeapBytes).to.be.greaterThan(0)
    else expect(step.wasmHeapBytes).to.equal(null)
    expect(r.fits.join('\n')).to.match(/LoRA at 512 px needs ~[\d.]+ GB/)
    expect(formatCheckReport(r)).to.include(`${r.parameters.toLocaleString('en-US')} parameters`)
  })

  it('a phase estimated past the backend memory is not run: reported as not fitting, with what it needs', async () => {
    const folder = join(dir, 'pixart-fp16', 'transformer')
    const parameters = countPixArtParams(TINY_PIXART)
    const forwardNeeds = pixartForwardBytes(TINY_PIXART, parameters, 64).total
    const r = await checkWeights(folder, {size: 64, checkpoint: 'on', memoryLimitBytes: forwardNeeds + 1})
    expect(phase(r, 'forward 64 px').ok).to.equal(true)
    const step = phase(r, 'LoRA step 64 px')
    expect(step).to.include({ok: false, skipped: true, pastMemoryLimit: true, seconds: 0})
    expect(step.estimatedBytes).to.equal(pixartLoraStepBytes(TINY_PIXART, parameters, 64, true).total)
    expect(phaseFailed(step), 'check-weights exits 1 for a phase that does not fit').to.equal(true)
    expect(r.fits.join('\n')).to.match(
      /LoRA step 64 px on \w+: not run: needs ~[\d.]+ GB, past the [\d.]+ GB (wasm heap|memory limit): use the tensorflow backend/
    )
    const none = await checkWeights(folder, {size: 64, memoryLimitBytes: 1})
    expect(none.phases.map(p => [p.name, p.ok, p.skipped, p.error?.slice(0, 20)])).to.deep.equal([
      ['load', true, undefined, undefined],
      ['forward 64 px', false, true, 'not run: needs ~0.00'],
      ['LoRA step 64 px', false, true, 'the forward pass was']
    ])
    expect(phaseFailed(none.phases[2]), 'a step skipped after a skipped forward is not a second failure').to.equal(
      false
    )
  })

  it('PixArt as one fp32 file, --no-train: the LoRA step is reported as skipped', async () => {
    const folder = join(dir, 'pixart-fp32')
    await writePixArtFolder(folder, TINY_PIXART, 'F32')
    const seen: string[] = []
    const r = await checkWeights(folder, {size: 32, train: false}, p => seen.push(p.name))
    expect(seen, 'each phase is handed over as it ends').to.deep.equal(r.phases.map(p => p.name))
    expect(r.layout).to.equal('single')
    expect(r.dtype).to.equal('F32')
    expect(r.fileBytes).to.be.greaterThan(4 * r.parameters)
    expect(phase(r, 'forward 32 px').ok).to.equal(true)
    expect(phase(r, 'LoRA step').skipped).to.equal(true)
  })

  it('the VAE in bf16: encode + decode at the asked size', async () => {
    const folder = join(dir, 'vae')
    await writeVaeFolder(folder, VAE, 'BF16')
    const r = await checkWeights(folder, {size: 32})
    expect(r.kind).to.equal('vae')
    expect(r.dtype).to.equal('BF16')
    expect(r.parameters).to.equal(count(vaeParamShapes(VAE)))
    const p = phase(r, 'encode+decode 32 px')
    expect(p.ok, p.error).to.equal(true)
    expect(p.detail.outputShape).to.deep.equal([1, 32, 32, 3])
  })

  it('BERT as pytorch_model.bin (BertForPreTraining names): 16 captions', async () => {
    const folder = join(dir, 'bert')
    await writeBertFolder(folder, BERT, 'bin')
    const r = await checkWeights(folder, {captions: 16, seqLen: 40})
    expect(r.kind).to.equal('bert')
    expect(r.files.map(f => f.name)).to.deep.equal(['pytorch_model.bin'])
    expect(r.dtype).to.equal('F32')
    expect(r.parameters).to.equal(count(bertPretrainingShapes(BERT)))
    const p = phase(r, 'encode 16 captions x 32 tokens') // clipped to max_position_embeddings
    expect(p.ok, p.error).to.equal(true)
    expect(p.detail.outputShape).to.deep.equal([16, 32, 16])
  })

  it('bad folders and sizes are one-line UserErrors naming the problem', async () => {
    const empty = join(dir, 'empty')
    mkdirSync(empty)
    await expectUserError(checkWeights(empty), /empty: no config\.json/)
    writeFileSync(join(empty, 'config.json'), JSON.stringify({_class_name: 'UNet2DConditionModel'}))
    await expectUserError(checkWeights(empty), /cannot tell the model kind \(_class_name "UNet2DConditionModel"/)
    await expectUserError(checkWeights(join(dir, 'pixart-fp32'), {size: 60}), /--size 60: .*divisible by patch_size 2/)
    await expectUserError(
      checkWeights(join(dir, 'pixart-fp32'), {captions: 0}),
      /--captions 0: must be a positive integer/
    )
  })

  it('verdicts: PixArt-XL-2 LoRA at 512 px does not fit the wasm heap and says what to use', () => {
    const xl = pixartPreset('pixart-xl-512')
    const parameters = countPixArtParams(xl)
    expect(parameters).to.equal(610_856_096)
    const at256 = pixartLoraStepBytes(xl, parameters, 256, true).total
    const at512 = pixartLoraStepBytes(xl, parameters, 512, true).total
    expect(at512).to.be.greaterThan(at256)
    expect(at256).to.be.greaterThan(4 * parameters)
    const report = {
      model: 'PixArt-XL-2',
      kind: 'pixart',
      backend: 'wasm',
      parameters,
      options: {size: 256},
      phases: [
        {
          name: 'LoRA step 256 px',
          ok: false,
          error: 'out of memory: Aborted(Cannot enlarge memory)',
          seconds: 3,
          peakRssBytes: 5 * GiB,
          trackedPeakBytes: 3.9 * GiB,
          wasmHeapBytes: 4 * GiB,
          estimatedBytes: at256,
          detail: {}
        }
      ]
    } as unknown as CheckReport
    const lines = fitsLines(report, xl, true)
    expect(lines[0]).to.match(
      /LoRA step 256 px on wasm: FAILED \(out of memory.*\); it needs ~[\d.]+ GB; the wasm heap is 4\.00 GB: use the tensorflow backend/
    )
    const at512Line = lines.find(l => l.includes('LoRA at 512 px'))!
    expect(at512Line).to.match(/needs ~[\d.]+ GB \(weights 2\.28 GB as float32, blocks checkpointed\)/)
    expect(isOutOfMemory(new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded'))).to.equal(true)
    expect(isOutOfMemory(new Error('Cannot find registered kernel'))).to.equal(false)
  })

  it('the command prints the report as JSON with --json', function () {
    const ok = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'bin', 'dev.js'),
        'check-weights',
        join(dir, 'bert'),
        '--json',
        '--backend',
        'cpu',
        '--captions',
        '2'
      ],
      {cwd: root, encoding: 'utf8', env: {...process.env, MEDGEN_BACKEND: ''}}
    )
    expect(ok.status, ok.stderr).to.equal(0)
    const report = JSON.parse(ok.stdout)
    expect(report.kind).to.equal('bert')
    expect(report.phases.map((p: {name: string}) => p.name)).to.deep.equal(['load', 'encode 2 captions x 32 tokens'])
  })
})
