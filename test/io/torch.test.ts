// PyTorch checkpoint reader (issue 2, item 7): golden bert-tiny checkpoints in both torch.save
// formats against the safetensors copy, plus hand-built archives for views, dtypes and damage.
import {expect} from 'chai'
import {copyFileSync, readFileSync, writeFileSync, truncateSync} from 'node:fs'
import {join} from 'node:path'
import {readTorchCheckpoint} from '../../src/io/torch.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import type {HostTensor} from '../../src/io/tensor-map.js'
import {goldenDir, tmpDir} from '../helpers/tmp.js'
import {torchZip} from './torch-writer.js'
import {expectUserError} from '../helpers/user-error.js'

const bert = join(goldenDir, 'bert-tiny')
const bytesOf = (t: HostTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)

describe('PyTorch checkpoint reader', () => {
  for (const file of ['pytorch_model.bin', 'pytorch_model_legacy.bin']) {
    it(`${file}: every tensor equals pretraining_state_dict.safetensors exactly`, async () => {
      const expected = await readSafetensors(join(bert, 'pretraining_state_dict.safetensors'))
      const got = await readTorchCheckpoint(join(bert, file))
      expect([...got.keys()].sort()).to.deep.equal([...expected.keys()].sort())
      for (const [name, ref] of expected) {
        const t = got.get(name)!
        expect(t.dtype, name).to.equal(ref.dtype)
        expect(t.shape, name).to.deep.equal(ref.shape)
        expect(bytesOf(t).equals(bytesOf(ref)), `${name} values`).to.equal(true)
      }
      // tied weights (shared storages) and the int64 position ids
      expect(
        bytesOf(got.get('cls.predictions.decoder.weight')!).equals(
          bytesOf(got.get('bert.embeddings.word_embeddings.weight')!)
        )
      ).to.equal(true)
      const ids = got.get('bert.embeddings.position_ids')!
      expect(ids.dtype).to.equal('I64')
      expect(ids.data).to.be.instanceOf(BigInt64Array)
      expect(Array.from(ids.data as BigInt64Array, Number)).to.deep.equal(Array.from({length: 64}, (_, i) => i))
    })
  }

  it('reads only the tensors a filter keeps', async () => {
    const got = await readTorchCheckpoint(join(bert, 'pytorch_model.bin'), n => !n.startsWith('cls.'))
    expect(got.size).to.equal(49 - 9) // 9 cls.* heads
    expect([...got.keys()].some(k => k.startsWith('cls.'))).to.equal(false)
  })

  it('honours storage offsets, strides (transposed and sliced views) and shared storages; deflate and zip64 archives', async () => {
    const values = Float32Array.from({length: 24}, (_, i) => i * 0.5 - 3)
    const dir = tmpDir()
    for (const [deflate, zip64] of [
      [false, false],
      [true, false],
      [false, true]
    ]) {
      const path = join(dir, `views-${deflate}-${zip64}.pt`)
      writeFileSync(
        path,
        torchZip(
          {
            matrix: {storage: '0', offset: 0, size: [2, 3], stride: [3, 1]},
            transposed: {storage: '0', offset: 0, size: [3, 2], stride: [1, 3]},
            everyOther: {storage: '0', offset: 6, size: [3], stride: [2]},
            tail: {storage: '0', offset: 20, size: [2, 2], stride: [2, 1]},
            scalar: {storage: '0', offset: 23, size: [], stride: []}
          },
          {'0': {type: 'FloatStorage', bytes: new Uint8Array(values.buffer)}},
          deflate,
          zip64
        )
      )
      const got = await readTorchCheckpoint(path)
      expect(Array.from(got.get('matrix')!.data as Float32Array)).to.deep.equal([-3, -2.5, -2, -1.5, -1, -0.5])
      expect(got.get('transposed')!.shape).to.deep.equal([3, 2])
      expect(Array.from(got.get('transposed')!.data as Float32Array)).to.deep.equal([-3, -1.5, -2.5, -1, -2, -0.5])
      expect(Array.from(got.get('everyOther')!.data as Float32Array)).to.deep.equal([0, 1, 2])
      expect(Array.from(got.get('tail')!.data as Float32Array)).to.deep.equal([7, 7.5, 8, 8.5])
      expect(got.get('scalar')!.shape).to.deep.equal([])
      expect(Array.from(got.get('scalar')!.data as Float32Array)).to.deep.equal([8.5])
    }
  })

  it('decodes Half, BFloat16, Double, Long and Int storages', async () => {
    const half = new Uint16Array([0x3e00, 0xc000, 0x7bff, 0x0001]) // 1.5, -2, 65504, smallest subnormal
    const bf16 = new Uint16Array([0x3fc0, 0xc0a0]) // 1.5, -5
    const path = join(tmpDir(), 'dtypes.pt')
    writeFileSync(
      path,
      torchZip(
        {
          h: {storage: 'h', offset: 0, size: [4], stride: [1]},
          b: {storage: 'b', offset: 0, size: [2], stride: [1]},
          d: {storage: 'd', offset: 1, size: [1], stride: [1]},
          l: {storage: 'l', offset: 0, size: [2], stride: [1]},
          i: {storage: 'i', offset: 0, size: [3], stride: [1]}
        },
        {
          h: {type: 'HalfStorage', bytes: new Uint8Array(half.buffer)},
          b: {type: 'BFloat16Storage', bytes: new Uint8Array(bf16.buffer)},
          d: {type: 'DoubleStorage', bytes: new Uint8Array(new Float64Array([1, Math.PI]).buffer)},
          l: {type: 'LongStorage', bytes: new Uint8Array(new BigInt64Array([-1n, 2n ** 60n]).buffer)},
          i: {type: 'IntStorage', bytes: new Uint8Array(new Int32Array([7, -8, 2147483647]).buffer)}
        }
      )
    )
    const got = await readTorchCheckpoint(path)
    expect(got.get('h')!.dtype).to.equal('F32')
    expect(Array.from(got.get('h')!.data as Float32Array)).to.deep.equal([1.5, -2, 65504, Math.fround(2 ** -24)])
    expect(Array.from(got.get('b')!.data as Float32Array)).to.deep.equal([1.5, -5])
    expect(got.get('d')!.dtype).to.equal('F64')
    expect(Array.from(got.get('d')!.data as Float64Array)).to.deep.equal([Math.PI])
    expect(Array.from(got.get('l')!.data as BigInt64Array)).to.deep.equal([-1n, 2n ** 60n])
    expect(got.get('i')!.dtype).to.equal('I32')
    expect(Array.from(got.get('i')!.data as Int32Array)).to.deep.equal([7, -8, 2147483647])
  })

  it('a view reaching past its storage is a one-line error naming file and tensor', async () => {
    const path = join(tmpDir(), 'overrun.pt')
    writeFileSync(
      path,
      torchZip(
        {w: {storage: '0', offset: 2, size: [4], stride: [1]}},
        {'0': {type: 'FloatStorage', bytes: new Uint8Array(16)}}
      )
    )
    await expectUserError(readTorchCheckpoint(path), path, 'tensor w')
  })

  it('truncated, zero-byte and non-checkpoint files give one-line errors naming the file', async () => {
    const dir = tmpDir()
    for (const file of ['pytorch_model.bin', 'pytorch_model_legacy.bin']) {
      const size = readFileSync(join(bert, file)).length
      for (const keep of [10, 3000, Math.floor(size / 2), size - 100]) {
        const path = join(dir, `cut-${keep}-${file}`)
        copyFileSync(join(bert, file), path)
        truncateSync(path, keep)
        await expectUserError(readTorchCheckpoint(path), path)
      }
    }
    const empty = join(dir, 'empty.bin')
    writeFileSync(empty, '')
    await expectUserError(readTorchCheckpoint(empty), empty, 'empty')
    const text = join(dir, 'notes.bin')
    writeFileSync(text, 'these are not weights\n')
    await expectUserError(readTorchCheckpoint(text), text)
    await expectUserError(readTorchCheckpoint(join(dir, 'missing.bin')), 'missing.bin', 'no such file')
  })
})
