// Precomputed features from other tools (`eval --features-real/--features-gen`): .safetensors,
// NumPy .npy, or .npz (a zip of .npy files, stored or deflated). A file holds either a feature
// matrix [n,d] (pytorch-fid's activations) or statistics `mu` [d] + `sigma` [d,d]
// (pytorch-fid --save-stats). Small readers, no dependency.
import {promises as fs} from 'node:fs'
import type {FileHandle} from 'node:fs/promises'
import {UserError, describeFsError} from '../errors.js'
import {readSafetensors} from '../io/safetensors.js'
import {isZip, readEntry, readZipDirectory, ZipFormatError} from '../io/zip.js'
import type {FeatureSet, GaussianStats} from './frechet.js'

export interface NpyArray {
  shape: number[]
  data: Float64Array
}

/** Parses one .npy buffer into float64 (C order). */
export function parseNpy(buf: Buffer, source: string): NpyArray {
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY')
    throw new UserError(`${source}: not a .npy array (bad magic)`)
  const major = buf.readUInt8(6)
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8)
  const start = major === 1 ? 10 : 12
  if (start + headerLen > buf.length)
    throw new UserError(
      `${source}: .npy header length ${headerLen} runs past the end of the file (${buf.length} bytes)`
    )
  const header = buf.toString('latin1', start, start + headerLen)
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1]
  const fortran = /'fortran_order'\s*:\s*True/.test(header)
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1]
  if (!descr || shapeText === undefined) throw new UserError(`${source}: malformed .npy header`)
  // Every size below comes from the file: validate before allocating anything from it.
  const dims = shapeText
    .split(',')
    .map(s => s.trim())
    .filter(Boolean)
  if (dims.some(d => !/^\d+$/.test(d)))
    throw new UserError(`${source}: .npy header shape (${shapeText}) is not a tuple of non-negative integers`)
  const shape = dims.map(Number)
  const n = shape.reduce((a, b) => a * b, 1)
  if (!Number.isSafeInteger(n)) throw new UserError(`${source}: .npy header shape (${shapeText}) is too large`)
  const body = buf.subarray(start + headerLen)
  const little = descr[0] !== '>'
  const type = descr.replace(/^[<>|=]/, '')
  const size = Number(type.slice(1))
  if (!Number.isSafeInteger(size) || size <= 0) throw new UserError(`${source}: unsupported .npy dtype ${descr}`)
  if (body.length < n * size)
    throw new UserError(`${source}: truncated .npy data (${body.length} bytes for ${n} x ${type})`)
  const read: Record<string, (o: number) => number> = {
    f8: o => (little ? body.readDoubleLE(o) : body.readDoubleBE(o)),
    f4: o => (little ? body.readFloatLE(o) : body.readFloatBE(o)),
    i8: o => Number(little ? body.readBigInt64LE(o) : body.readBigInt64BE(o)),
    i4: o => (little ? body.readInt32LE(o) : body.readInt32BE(o)),
    u1: o => body.readUInt8(o)
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

/** Members of a .npz (a zip of .npy files), read through src/io/zip.ts: bounds and inflation limits apply. */
async function readNpz(path: string): Promise<Map<string, NpyArray>> {
  let handle: FileHandle
  try {
    handle = await fs.open(path, 'r')
  } catch (err) {
    throw describeFsError(err, path) ?? err
  }
  try {
    if (!(await isZip(handle))) throw new UserError(`${path}: not a zip/.npz file (no zip header)`)
    const arrays = new Map<string, NpyArray>()
    for (const entry of (await readZipDirectory(handle)).values()) {
      arrays.set(entry.name.replace(/\.npy$/, ''), parseNpy(await readEntry(handle, entry), `${path}:${entry.name}`))
    }
    return arrays
  } catch (err) {
    if (err instanceof ZipFormatError) throw new UserError(`${path}: corrupt .npz archive (${err.message})`)
    if (err instanceof UserError)
      throw err.message.startsWith(path) ? err : new UserError(`${path}: ${err.message}`, err.exitCode)
    throw err
  } finally {
    await handle.close()
  }
}

export type LoadedFeatures = {kind: 'features'; features: FeatureSet} | {kind: 'stats'; stats: GaussianStats}

function fromArrays(arrays: Map<string, NpyArray>, source: string): LoadedFeatures {
  const mu = arrays.get('mu'),
    sigma = arrays.get('sigma')
  if (mu && sigma) {
    if (mu.shape.length !== 1 || mu.shape[0] < 1)
      throw new UserError(`${source}: mu has shape [${mu.shape}], expected a vector [d]`)
    const d = mu.shape[0]
    if (sigma.shape.length !== 2 || sigma.shape[0] !== d || sigma.shape[1] !== d)
      throw new UserError(`${source}: sigma has shape [${sigma.shape}], expected [${d},${d}]`)
    return {kind: 'stats', stats: {d, n: NaN, mu: mu.data, sigma: sigma.data}}
  }
  const preferred = ['features', 'pool3', 'activations', 'arr_0']
  const name =
    preferred.find(k => arrays.get(k)?.shape.length === 2) ??
    [...arrays.keys()].find(k => arrays.get(k)!.shape.length === 2)
  if (!name)
    throw new UserError(
      `${source}: no [n,d] feature matrix and no mu/sigma pair found (arrays: ${[...arrays.keys()].join(', ') || 'none'})`
    )
  const a = arrays.get(name)!
  if (a.shape[1] < 1)
    throw new UserError(`${source}: feature matrix ${name} has shape [${a.shape}]: no feature columns`)
  // A covariance (ddof 1) needs two rows; one row would give NaN everywhere downstream.
  if (a.shape[0] < 2)
    throw new UserError(`${source}: feature matrix ${name} has ${a.shape[0]} row(s); FID/KID need at least 2`)
  return {kind: 'features', features: {n: a.shape[0], d: a.shape[1], data: a.data}}
}

export async function loadFeatureFile(path: string): Promise<LoadedFeatures> {
  if (/\.safetensors$/i.test(path)) {
    const t = await readSafetensors(path)
    const arrays = new Map<string, NpyArray>()
    for (const [k, v] of t)
      arrays.set(k, {shape: v.shape, data: Float64Array.from(v.data as ArrayLike<number>, Number)})
    return fromArrays(arrays, path)
  }
  if (/\.npz$/i.test(path)) return fromArrays(await readNpz(path), path)
  if (/\.npy$/i.test(path)) {
    let buf: Buffer
    try {
      buf = await fs.readFile(path)
    } catch (err) {
      throw describeFsError(err, path) ?? err
    }
    return fromArrays(new Map([['features', parseNpy(buf, path)]]), path)
  }
  throw new UserError(`${path}: unknown feature file type; expected .safetensors, .npy or .npz`)
}
