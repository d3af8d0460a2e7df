// Precomputed features from other tools (`eval --features-real/--features-gen`): .safetensors,
// NumPy .npy, or .npz (a zip of .npy files, stored or deflated). A file holds either a feature
// matrix [n,d] (pytorch-fid's activations) or statistics `mu` [d] + `sigma` [d,d]
// (pytorch-fid --save-stats). Small readers, no dependency.
import {promises as fs} from 'node:fs'
import {inflateRawSync} from 'node:zlib'
import {UserError, describeFsError} from '../errors.js'
import {readSafetensors} from '../io/safetensors.js'
import type {FeatureSet, GaussianStats} from './frechet.js'

export interface NpyArray { shape: number[], data: Float64Array }

/** Parses one .npy buffer into float64 (C order). */
export function parseNpy(buf: Buffer, source: string): NpyArray {
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new UserError(`${source}: not a .npy array (bad magic)`)
  const major = buf.readUInt8(6)
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8)
  const start = major === 1 ? 10 : 12
  const header = buf.toString('latin1', start, start + headerLen)
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1]
  const fortran = /'fortran_order'\s*:\s*True/.test(header)
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1]
  if (!descr || shapeText === undefined) throw new UserError(`${source}: malformed .npy header`)
  const shape = shapeText.split(',').map(s => s.trim()).filter(Boolean).map(Number)
  const n = shape.reduce((a, b) => a * b, 1)
  const body = buf.subarray(start + headerLen)
  const little = descr[0] !== '>'
  const type = descr.replace(/^[<>|=]/, '')
  const size = Number(type.slice(1))
  if (body.length < n * size) throw new UserError(`${source}: truncated .npy data (${body.length} bytes for ${n} x ${type})`)
  const read: Record<string, (o: number) => number> = {
    f8: o => little ? body.readDoubleLE(o) : body.readDoubleBE(o),
    f4: o => little ? body.readFloatLE(o) : body.readFloatBE(o),
    i8: o => Number(little ? body.readBigInt64LE(o) : body.readBigInt64BE(o)),
    i4: o => little ? body.readInt32LE(o) : body.readInt32BE(o),
    u1: o => body.readUInt8(o),
  }
  const reader = read[type]
  if (!reader) throw new UserError(`${source}: unsupported .npy dtype ${descr}`)
  const data = new Float64Array(n)
  for (let i = 0; i < n; i++) data[i] = reader(i * size)
  if (fortran && shape.length === 2) {
    const [r, c] = shape
    const t = new Float64Array(n)
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[i * c + j] = data[j * r + i]
    return {shape, data: t}
  }
  return {shape, data}
}

/** Entries of a zip file (local headers found via the central directory). */
export function unzip(buf: Buffer, source: string): Map<string, Buffer> {
  let eocd = -1
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break }
  if (eocd < 0) throw new UserError(`${source}: not a zip/.npz file (no end of central directory)`)
  let count = buf.readUInt16LE(eocd + 10)
  let cd = buf.readUInt32LE(eocd + 16)
  if (cd === 0xffffffff || count === 0xffff) {
    // zip64: locator just before the EOCD points at the zip64 EOCD record.
    const loc = eocd - 20
    const z64 = Number(buf.readBigUInt64LE(loc + 8))
    count = Number(buf.readBigUInt64LE(z64 + 32))
    cd = Number(buf.readBigUInt64LE(z64 + 48))
  }
  const out = new Map<string, Buffer>()
  for (let e = 0; e < count; e++) {
    if (buf.readUInt32LE(cd) !== 0x02014b50) throw new UserError(`${source}: corrupt zip central directory`)
    const method = buf.readUInt16LE(cd + 10)
    let csize = buf.readUInt32LE(cd + 20)
    let local = buf.readUInt32LE(cd + 42)
    const nameLen = buf.readUInt16LE(cd + 28), extraLen = buf.readUInt16LE(cd + 30), commentLen = buf.readUInt16LE(cd + 32)
    const name = buf.toString('utf8', cd + 46, cd + 46 + nameLen)
    // zip64 extra field (numpy writes it for large arrays): sizes/offset in 64 bits.
    let x = cd + 46 + nameLen
    const xEnd = x + extraLen
    while (x + 4 <= xEnd) {
      const id = buf.readUInt16LE(x), len = buf.readUInt16LE(x + 2)
      if (id === 0x0001) {
        let p = x + 4
        if (buf.readUInt32LE(cd + 24) === 0xffffffff) p += 8
        if (csize === 0xffffffff) { csize = Number(buf.readBigUInt64LE(p)); p += 8 }
        if (local === 0xffffffff) local = Number(buf.readBigUInt64LE(p))
      }
      x += 4 + len
    }
    const lName = buf.readUInt16LE(local + 26), lExtra = buf.readUInt16LE(local + 28)
    const dataStart = local + 30 + lName + lExtra
    const raw = buf.subarray(dataStart, dataStart + csize)
    if (method === 0) out.set(name, raw)
    else if (method === 8) out.set(name, inflateRawSync(raw))
    else throw new UserError(`${source}: zip entry ${name} uses unsupported compression method ${method}`)
    cd += 46 + nameLen + extraLen + commentLen
  }
  return out
}

export type LoadedFeatures = {kind: 'features', features: FeatureSet} | {kind: 'stats', stats: GaussianStats}

function fromArrays(arrays: Map<string, NpyArray>, source: string): LoadedFeatures {
  const mu = arrays.get('mu'), sigma = arrays.get('sigma')
  if (mu && sigma) {
    const d = mu.shape[0]
    if (sigma.shape.length !== 2 || sigma.shape[0] !== d || sigma.shape[1] !== d) throw new UserError(`${source}: sigma has shape [${sigma.shape}], expected [${d},${d}]`)
    return {kind: 'stats', stats: {d, n: NaN, mu: mu.data, sigma: sigma.data}}
  }
  const preferred = ['features', 'pool3', 'activations', 'arr_0']
  const name = preferred.find(k => arrays.get(k)?.shape.length === 2) ?? [...arrays.keys()].find(k => arrays.get(k)!.shape.length === 2)
  if (!name) throw new UserError(`${source}: no [n,d] feature matrix and no mu/sigma pair found (arrays: ${[...arrays.keys()].join(', ') || 'none'})`)
  const a = arrays.get(name)!
  return {kind: 'features', features: {n: a.shape[0], d: a.shape[1], data: a.data}}
}

export async function loadFeatureFile(path: string): Promise<LoadedFeatures> {
  if (/\.safetensors$/i.test(path)) {
    const t = await readSafetensors(path)
    const arrays = new Map<string, NpyArray>()
    for (const [k, v] of t) arrays.set(k, {shape: v.shape, data: Float64Array.from(v.data as ArrayLike<number>, Number)})
    return fromArrays(arrays, path)
  }
  let buf: Buffer
  try { buf = await fs.readFile(path) } catch (err) { throw describeFsError(err, path) ?? err }
  if (/\.npy$/i.test(path)) return fromArrays(new Map([['features', parseNpy(buf, path)]]), path)
  if (/\.npz$/i.test(path)) {
    const arrays = new Map<string, NpyArray>()
    for (const [name, entry] of unzip(buf, path)) arrays.set(name.replace(/\.npy$/, ''), parseNpy(entry, `${path}:${name}`))
    return fromArrays(arrays, path)
  }
  throw new UserError(`${path}: unknown feature file type; expected .safetensors, .npy or .npz`)
}
