// FID, KID and hfd between a real and a generated image set (or precomputed features), each
// result carrying its definition, set sizes, resize mode and weights hash (issue 9 item 6).
import type {MedgenConfig} from '../../config/schema.js'
import {
  frechetDistance,
  frechetFromStats,
  gaussianStats,
  type FeatureSet,
  type GaussianStats
} from '../../metrics/frechet.js'
import {kid} from '../../metrics/kid.js'
import {loadFeatureFile, type LoadedFeatures} from '../../metrics/feature-files.js'
import {inceptionFeatures} from '../../metrics/inception-features.js'
import {hfdDefinition, spectralFeature, type SpectrumOptions} from '../../metrics/hfd.js'
import {disposeInception, loadInception} from '../../models/inception/weights.js'
import {asPytorchFid, readRgb8} from '../../io/images.js'
import {progress} from '../../util/progress.js'
import {log} from '../../util/log.js'
import {UserError} from '../../errors.js'
import {runLayout} from '../../run/layout.js'

export interface MetricResult {
  value?: number
  std?: number
  definition: string
  /** why the metric did not run */
  skipped?: string
  nReal?: number
  nGen?: number
  [extra: string]: unknown
}

export interface ImageSets {
  realFiles: string[]
  genFiles: string[]
}

export const fidDefinition =
  'FID: Fréchet distance between Gaussians fitted to Inception-v3 pool3 features (pytorch-fid FID Inception, 2048-d); ' +
  'mu as pytorch-fid (float32 mean), covariance float64 ddof 1, tr sqrtm(S1 S2) by symmetric eigen-decomposition (exact low-rank form when n < d), ' +
  "pytorch-fid's eps=1e-6 offset retry for non-finite results"
export const kidDefinition =
  'KID: unbiased MMD² with the cubic polynomial kernel (x·y/d + 1)^3 on Inception pool3 features, mean ± std (ddof 0) over seeded random subsets ' +
  '(torch-fidelity formula; general unequal-size estimator)'

function setFromLoaded(l: LoadedFeatures): FeatureSet | GaussianStats {
  return l.kind === 'features' ? l.features : l.stats
}

/** pytorch-fid features of both sides: from files when given, else from Inception on the images. */
async function inceptionSides(
  config: MedgenConfig,
  runDir: string,
  sets: ImageSets
): Promise<
  | {real: FeatureSet | GaussianStats; gen: FeatureSet | GaussianStats; sha256: string | null; source: string}
  | {skipped: string}
> {
  const e = config.eval
  let real: FeatureSet | GaussianStats | null = e.featuresReal
    ? setFromLoaded(await loadFeatureFile(e.featuresReal))
    : null
  let gen: FeatureSet | GaussianStats | null = e.featuresGen
    ? setFromLoaded(await loadFeatureFile(e.featuresGen))
    : null
  let sha256: string | null = null
  if (!real || !gen) {
    if (!config.weights.inception) {
      return {
        skipped:
          'needs weights.inception (pt_inception-2015-12-05-6726825d.pth or its safetensors conversion), or --features-real/--features-gen'
      }
    }
    const loaded = await loadInception(config.weights.inception)
    sha256 = loaded.sha256
    const common = {
      weights: loaded.weights,
      weightsSha256: loaded.sha256,
      resize: e.resize,
      batchSize: e.batchSize,
      cacheDir: e.cache ? runLayout(runDir).cache.fid : undefined
    }
    try {
      if (!real) real = await inceptionFeatures(sets.realFiles, {...common, label: 'real'})
      if (!gen) gen = await inceptionFeatures(sets.genFiles, {...common, label: 'generated'})
    } finally {
      disposeInception(loaded.weights)
    }
  }
  const realName = e.featuresReal || 'Inception features of the real images'
  const genName = e.featuresGen || 'Inception features of the generated images'
  if (real!.d !== gen!.d) {
    const [named, nd, other, od] = e.featuresGen
      ? [genName, gen!.d, realName, real!.d]
      : [realName, real!.d, genName, gen!.d]
    throw new UserError(
      `${named}: ${nd}-d features, but ${other} are ${od}-d; both sides must come from the same extractor`
    )
  }
  const source =
    e.featuresReal || e.featuresGen
      ? `features: real ${e.featuresReal || 'Inception'}, generated ${e.featuresGen || 'Inception'}`
      : 'Inception on images'
  return {real: real!, gen: gen!, sha256, source}
}

const isStats = (s: FeatureSet | GaussianStats): s is GaussianStats => 'sigma' in s

export async function computeInceptionMetrics(
  config: MedgenConfig,
  runDir: string,
  sets: ImageSets,
  wanted: Set<string>
): Promise<Record<string, MetricResult>> {
  const out: Record<string, MetricResult> = {}
  if (!wanted.has('fid') && !wanted.has('kid')) return out
  const sides = await inceptionSides(config, runDir, sets)
  if ('skipped' in sides) {
    if (wanted.has('fid')) out.fid = {definition: fidDefinition, skipped: sides.skipped}
    if (wanted.has('kid')) out.kid = {definition: kidDefinition, skipped: sides.skipped}
    log.info(`eval: fid/kid skipped: ${sides.skipped}`)
    return out
  }
  const {real, gen} = sides
  const common = {
    nReal: real.n,
    nGen: gen.n,
    resize: config.eval.resize,
    weightsSha256: sides.sha256,
    featureSource: sides.source
  }
  if (wanted.has('fid')) {
    const started = Date.now()
    const r =
      isStats(real) || isStats(gen)
        ? frechetFromStats(isStats(real) ? real : gaussianStats(real), isStats(gen) ? gen : gaussianStats(gen))
        : frechetDistance(real, gen)
    out.fid = {
      value: r.value,
      definition: fidDefinition,
      ...common,
      method: r.method,
      epsPathTaken: r.epsPathTaken,
      terms: {meanDiffSq: r.diffSq, trSigmaReal: r.trSigma1, trSigmaGen: r.trSigma2, trSqrtProduct: r.trCovmean},
      seconds: (Date.now() - started) / 1000
    }
  }
  if (wanted.has('kid')) {
    if (isStats(real) || isStats(gen))
      out.kid = {
        definition: kidDefinition,
        skipped: 'KID needs per-image features; a mu/sigma statistics file was given'
      }
    else {
      const seed = config.run.seed
      const r = kid(real, gen, {subsets: config.eval.kidSubsets, subsetSize: config.eval.kidSubsetSize, seed})
      out.kid = {
        value: r.mean,
        std: r.std,
        definition: kidDefinition,
        ...common,
        subsets: r.subsets,
        subsetSize: r.subsetSize,
        seed
      }
    }
  }
  return out
}

/** hfd features of a list of image files. */
export async function spectralFeatures(files: string[], opts: SpectrumOptions, label: string): Promise<FeatureSet> {
  const dims = spectralFeature(new Uint8Array(opts.size * opts.size * 3), opts).length
  const data = new Float64Array(files.length * dims)
  const bar = progress(`hfd spectra (${label})`, files.length)
  for (let i = 0; i < files.length; i++) {
    const img = await readRgb8(files[i], {...asPytorchFid, size: opts.size})
    data.set(spectralFeature(img.data, opts), i * dims)
    bar.tick()
  }
  bar.stop()
  return {n: files.length, d: dims, data}
}

export async function computeHfd(config: MedgenConfig, sets: ImageSets): Promise<MetricResult> {
  const opts = {size: config.eval.hfdSize, bandLow: config.eval.hfdBandLow, bandHigh: config.eval.hfdBandHigh}
  const definition = hfdDefinition(opts)
  if (opts.bandLow >= opts.bandHigh)
    return {definition, skipped: `eval.hfdBandLow (${opts.bandLow}) must be below eval.hfdBandHigh (${opts.bandHigh})`}
  if (sets.realFiles.length < 2 || sets.genFiles.length < 2)
    return {definition, skipped: 'needs at least 2 real and 2 generated images'}
  const real = await spectralFeatures(sets.realFiles, opts, 'real')
  const gen = await spectralFeatures(sets.genFiles, opts, 'generated')
  const r = frechetDistance(real, gen)
  return {
    value: r.value,
    definition,
    nReal: real.n,
    nGen: gen.n,
    dims: real.d,
    size: opts.size,
    band: [opts.bandLow, opts.bandHigh]
  }
}
