// safetensors reader/writer (issue 2, item 7): every golden file, dtypes, a > 2 GiB sparse file
// read by offset, and headers that lie.
import {expect} from 'chai'
import {
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
  ftruncateSync
} from 'node:fs'
import {join} from 'node:path'
import {
  forEachSafetensor,
  halfToFloat,
  readSafetensors,
  readSafetensorsHeader,
  readSafetensorsMetadata,
  encodeSafetensors,
  writeSafetensors
} from '../../src/io/safetensors.js'
import {UserError} from '../../src/errors.js'
import {numel} from '../../src/io/tensor-map.js'
import {goldenDir, tmpDir} from '../helpers/tmp.js'
import {expectUserError} from '../helpers/user-error.js'

function goldenFiles(dir = goldenDir): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? goldenFiles(path) : name.endsWith('.safetensors') ? [path] : []
  })
}

/** A safetensors file from a hand-written header object and raw data bytes. */
function rawFile(path: string, header: Record<string, unknown>, data: Uint8Array | number = 0): void {
  const json = Buffer.from(JSON.stringify(header))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  writeFileSync(path, Buffer.concat([len, json, typeof data === 'number' ? Buffer.alloc(data) : Buffer.from(data)]))
}

describe('safetensors', () => {
  const files = goldenFiles()

  it('finds the golden files', () => {
    expect(files.length).to.be.at.least(20)
  })

  it('reads every golden file: names, dtypes and shapes as in the header, and writes it back byte for byte', async () => {
    for (const file of files) {
      const raw = readFileSync(file)
      const headerJson = JSON.parse(raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString('utf8'))
      const names = Object.keys(headerJson).filter(k => k !== '__metadata__')
      const tensors = await readSafetensors(file)
      expect([...tensors.keys()].sort(), file).to.deep.equal(names.sort())
      for (const name of names) {
        const t = tensors.get(name)!
        expect(t.shape, `${file} ${name}`).to.deep.equal(headerJson[name].shape)
        expect(t.data.length, `${file} ${name}`).to.equal(numel(t.shape))
        if (headerJson[name].dtype !== 'F16' && headerJson[name].dtype !== 'BF16')
          expect(t.dtype).to.equal(headerJson[name].dtype)
      }
      const metadata = await readSafetensorsMetadata(file)
      expect(metadata).to.deep.equal(headerJson.__metadata__ ?? {})
      const again = Buffer.concat(encodeSafetensors(tensors, metadata))
      expect(again.equals(raw), `${file}: rewritten bytes differ`).to.equal(true)
    }
  })

  it('decodes F16 and BF16 (to float32), I32 and I64 from raw bytes', async () => {
    const path = join(tmpDir(), 'dtypes.safetensors')
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x3555]) // 1, -2, 65504, 2^-24, -0, inf, -inf, ~1/3
    const bf16 = new Uint16Array([0x3f80, 0xc0a0, 0x7f80, 0x3eab]) // 1, -5, inf, ~0.334
    const i32 = new Int32Array([-2147483648, -1, 0, 2147483647])
    const i64 = new BigInt64Array([-(2n ** 62n), -1n, 0n, 2n ** 53n + 1n])
    const parts = [f16, bf16, i32, i64].map(a => Buffer.from(a.buffer))
    const at = (i: number) => parts.slice(0, i).reduce((s, p) => s + p.length, 0)
    rawFile(
      path,
      {
        half: {dtype: 'F16', shape: [2, 4], data_offsets: [at(0), at(1)]},
        brain: {dtype: 'BF16', shape: [4], data_offsets: [at(1), at(2)]},
        int: {dtype: 'I32', shape: [4], data_offsets: [at(2), at(3)]},
        long: {dtype: 'I64', shape: [2, 2], data_offsets: [at(3), at(4)]}
      },
      Buffer.concat(parts)
    )
    const t = await readSafetensors(path)
    expect(t.get('half')!.dtype).to.equal('F32')
    const half = Array.from(t.get('half')!.data as Float32Array)
    expect(half.slice(0, 7)).to.deep.equal([1, -2, 65504, Math.fround(2 ** -24), -0, Infinity, -Infinity])
    expect(half[7]).to.be.closeTo(1 / 3, 1e-3)
    const brain = Array.from(t.get('brain')!.data as Float32Array)
    expect(brain.slice(0, 3)).to.deep.equal([1, -5, Infinity])
    expect(brain[3]).to.be.closeTo(0.334, 1e-3)
    expect(Array.from(t.get('int')!.data as Int32Array)).to.deep.equal(Array.from(i32))
    expect(t.get('long')!.data).to.be.instanceOf(BigInt64Array)
    expect(Array.from(t.get('long')!.data as BigInt64Array)).to.deep.equal(Array.from(i64))
  })

  it('widens every one of the 65,536 F16 bit patterns exactly as halfToFloat does (the lookup table)', async () => {
    const path = join(tmpDir(), 'all-halves.safetensors')
    const bits = Uint16Array.from({length: 65536}, (_, i) => i)
    rawFile(path, {all: {dtype: 'F16', shape: [65536], data_offsets: [0, 131072]}}, new Uint8Array(bits.buffer))
    const got = (await readSafetensors(path)).get('all')!.data as Float32Array
    const want = Float32Array.from(bits, halfToFloat)
    expect(got.length).to.equal(65536)
    for (let i = 0; i < 65536; i++)
      if (!Object.is(got[i], want[i])) expect.fail(`0x${i.toString(16)}: ${got[i]} != ${want[i]}`)
  })

  it('forEachSafetensor hands over one tensor at a time, float32 as a view of its own buffer', async () => {
    const path = join(tmpDir(), 'stream.safetensors')
    await writeSafetensors(path, {
      a: {dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3])},
      b: {dtype: 'F32', shape: [2], data: new Float32Array([4, 5])}
    })
    const seen: Array<[string, number[], number]> = []
    await forEachSafetensor(
      path,
      (name, t) => {
        seen.push([name, Array.from(t.data as Float32Array), t.data.buffer.byteLength])
      },
      name => name !== 'c'
    )
    // no copy: each tensor's buffer is exactly its bytes
    expect(seen).to.deep.equal([
      ['a', [1, 2, 3], 12],
      ['b', [4, 5], 8]
    ])
    await expectUserError(
      forEachSafetensor(path, () => {
        throw new UserError('stop')
      }),
      'stop'
    )
  })

  it('writes metadata and every dtype it reads back', async () => {
    const path = join(tmpDir(), 'out.safetensors')
    await writeSafetensors(
      path,
      {
        w: {dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4])},
        ids: {dtype: 'I64', shape: [3], data: new BigInt64Array([1n, 2n, 3n])},
        n: {dtype: 'I32', shape: [1], data: new Int32Array([7])},
        d: {dtype: 'F64', shape: [1], data: new Float64Array([Math.E])}
      },
      {config: '{"rank":4}', step: '12'}
    )
    expect(readFileSync(path).readBigUInt64LE(0) % 8n).to.equal(0n)
    const t = await readSafetensors(path)
    expect(Array.from(t.get('w')!.data as Float32Array)).to.deep.equal([1, 2, 3, 4])
    expect(Array.from(t.get('ids')!.data as BigInt64Array)).to.deep.equal([1n, 2n, 3n])
    expect(Array.from(t.get('n')!.data as Int32Array)).to.deep.equal([7])
    expect(Array.from(t.get('d')!.data as Float64Array)).to.deep.equal([Math.E])
    expect(await readSafetensorsMetadata(path)).to.deep.equal({config: '{"rank":4}', step: '12'})
  })

  it('reads a tensor beyond 2 GiB in a sparse file by offset, without a 2 GiB buffer', async function () {
    const path = join(tmpDir(), 'huge.safetensors')
    const bigElements = 560_000_000 // 2.24 GB of F32 that is never read
    const bigBytes = bigElements * 4
    const header = Buffer.from(
      JSON.stringify({
        big: {dtype: 'F32', shape: [bigElements], data_offsets: [0, bigBytes]},
        far: {dtype: 'F32', shape: [2, 2], data_offsets: [bigBytes, bigBytes + 16]}
      })
    )
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(header.length))
    const fd = openSync(path, 'w')
    try {
      writeSync(fd, Buffer.concat([len, header]), 0, 8 + header.length, 0)
      ftruncateSync(fd, 8 + header.length + bigBytes + 16)
      const far = Buffer.from(new Float32Array([1.5, -2.5, 3.25, 1e30]).buffer)
      writeSync(fd, far, 0, 16, 8 + header.length + bigBytes)
    } finally {
      closeSync(fd)
    }
    expect(statSync(path).size).to.be.above(2 ** 31)
    const rssBefore = process.memoryUsage().rss
    const t0 = performance.now()
    const headerInfo = await readSafetensorsHeader(path)
    expect(headerInfo.entries.get('far')!.begin).to.be.above(2 ** 31)
    const got = await readSafetensors(path, name => name === 'far')
    const ms = performance.now() - t0
    expect([...got.keys()]).to.deep.equal(['far'])
    expect(Array.from(got.get('far')!.data as Float32Array)).to.deep.equal([1.5, -2.5, 3.25, Math.fround(1e30)])
    expect(process.memoryUsage().rss - rssBefore, 'memory grew by the size of the skipped tensor').to.be.below(
      200 * 2 ** 20
    )
    console.log(`      read a tensor at offset ${(bigBytes / 2 ** 30).toFixed(2)} GiB in ${ms.toFixed(1)} ms`)
  })

  describe('headers that lie give one-line errors naming the file and tensor', () => {
    const dir = tmpDir()
    const cases: Array<[string, Record<string, unknown>, number, string[]]> = [
      ['offsets past the data', {w: {dtype: 'F32', shape: [4], data_offsets: [0, 16]}}, 8, ['w', 'out of range']],
      ['negative offsets', {w: {dtype: 'F32', shape: [1], data_offsets: [-4, 0]}}, 8, ['w']],
      [
        'overlapping tensors',
        {a: {dtype: 'F32', shape: [2], data_offsets: [0, 8]}, b: {dtype: 'F32', shape: [2], data_offsets: [4, 12]}},
        12,
        ['a', 'b', 'overlap']
      ],
      [
        'byte size not matching the shape',
        {w: {dtype: 'F32', shape: [3], data_offsets: [0, 8]}},
        8,
        ['w', 'do not match']
      ],
      ['an unknown dtype', {w: {dtype: 'Q4', shape: [2], data_offsets: [0, 8]}}, 8, ['w', 'dtype Q4']],
      ['a shape that is not a list', {w: {dtype: 'F32', shape: 2, data_offsets: [0, 8]}}, 8, ['w', 'malformed']]
    ]
    for (const [what, header, dataBytes, fragments] of cases) {
      it(what, async () => {
        const path = join(dir, `${what.replace(/\W+/g, '-')}.safetensors`)
        rawFile(path, header, dataBytes)
        await expectUserError(readSafetensors(path), path, ...fragments)
      })
    }
    it('header length beyond the file, header not JSON, too short, zero bytes, missing', async () => {
      const long = join(dir, 'long.safetensors')
      const b = Buffer.alloc(16)
      b.writeBigUInt64LE(1000n)
      writeFileSync(long, b)
      await expectUserError(readSafetensors(long), long, 'header length 1000')
      const notJson = join(dir, 'notjson.safetensors')
      const nj = Buffer.alloc(16)
      nj.writeBigUInt64LE(8n)
      nj.write('{"w": [', 8)
      writeFileSync(notJson, nj)
      await expectUserError(readSafetensors(notJson), notJson, 'not valid JSON')
      const short = join(dir, 'short.safetensors')
      writeFileSync(short, 'abc')
      await expectUserError(readSafetensors(short), short)
      const empty = join(dir, 'empty.safetensors')
      writeFileSync(empty, '')
      await expectUserError(readSafetensors(empty), empty)
      await expectUserError(readSafetensors(join(dir, 'nope.safetensors')), 'nope.safetensors', 'no such file')
    })
  })
})
