// `dfd`: the dataset-specific reading of the paper's HFD/KFD/BFD (docs/REFERENCE.md §7): Fréchet
// distance in the penultimate-layer features of the classifier `medgen classify` trained on
// this dataset's real images (classify/model.safetensors).
import {decodeImage} from '../../data/image-io.js'
import {frechetDistance} from '../../metrics/frechet.js'
import {disposeClassifier} from '../../models/classifier/index.js'
import {progress} from '../../util/progress.js'
import {pathExists} from '../../io/atomic.js'
import {loadClassifyModel} from '../classify/model-file.js'
import {predictSet} from '../classify/train.js'
import type {LabeledSet} from '../classify/batches.js'
import type {ImageSets, MetricResult} from './image-metrics.js'
import {sha256File} from '../../io/atomic.js'
import {runLayout} from '../../run/layout.js'

async function decodeAll(files: string[], size: number, label: string): Promise<LabeledSet> {
  const px = size * size * 3
  const images = new Float32Array(files.length * px)
  const bar = progress(`dfd decode (${label})`, files.length)
  for (let i = 0; i < files.length; i++) {
    images.set((await decodeImage(files[i], {width: size, height: size})).data, i * px)
    bar.tick()
  }
  bar.stop()
  return {images, size, labels: new Int32Array(files.length), ids: files}
}

export async function computeDfd(runDir: string, sets: ImageSets, batchSize: number): Promise<MetricResult> {
  const path = runLayout(runDir).classify.model
  const base =
    'dfd: Fréchet distance between Gaussians fitted to the penultimate-layer features of the classify model trained on this dataset (classify/model.safetensors); ' +
    "the dataset-specific reading of the paper's HFD/KFD/BFD (docs/REFERENCE.md §7)"
  if (!(await pathExists(path))) return {definition: base, skipped: `needs ${path}; run \`medgen classify\` first`}
  if (sets.realFiles.length < 2 || sets.genFiles.length < 2)
    return {definition: base, skipped: 'needs at least 2 real and 2 generated images'}
  const {model, info} = await loadClassifyModel(path)
  try {
    const real = await predictSet(model, await decodeAll(sets.realFiles, info.imageSize, 'real'), batchSize)
    const gen = await predictSet(model, await decodeAll(sets.genFiles, info.imageSize, 'generated'), batchSize)
    const d = model.net.featureDim
    const r = frechetDistance(
      {n: sets.realFiles.length, d, data: real.features},
      {n: sets.genFiles.length, d, data: gen.features}
    )
    return {
      value: r.value,
      definition: `${base}; preset ${info.preset}, ${d}-d, input ${info.imageSize}px`,
      nReal: sets.realFiles.length,
      nGen: sets.genFiles.length,
      classifierSha256: await sha256File(path),
      classifierProtocol: info.protocol,
      classifierSeed: info.seed
    }
  } finally {
    disposeClassifier(model)
  }
}
