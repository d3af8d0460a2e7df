// Calibrates and checks src/caption/measure.ts against synth ground truth: per kind, draws
// samples at a size, measures them, prints per-attribute agreement, confusions and the
// distribution of the deciding measure per true value.
//   node --import tsx scripts/calibrate-measure.ts [n=300] [size=64] [kind=all] [jpeg=1] [mask=truth|estimated]
import sharp from 'sharp'
import {drawSample} from '../src/data/synth/sample.js'
import {measureAttributes, type Measures} from '../src/caption/measure.js'
import {estimateMask} from '../src/caption/measure-segment.js'
import {attributeNamesOf, datasetKinds, type DatasetKind} from '../src/data/attributes.js'
import {deriveSeed} from '../src/util/rng.js'

const n = Number(process.argv[2] ?? 300),
  size = Number(process.argv[3] ?? 64)
const kinds = (process.argv[4] && process.argv[4] !== 'all' ? [process.argv[4]] : datasetKinds) as DatasetKind[]
const jpeg = (process.argv[5] ?? '1') === '1'
const estimated = process.argv[6] === 'estimated'
const deciding: Record<string, keyof Measures> = {
  shape: 'solidity',
  border: 'edgeWidth',
  symmetry: 'symmetry',
  size: 'areaFraction',
  texture: 'darkFraction'
}

for (const kind of kinds) {
  const agree: Record<string, number> = {},
    confusion: Record<string, Record<string, number>> = {}
  const stats: Record<string, Record<string, number[]>> = {}
  const names = attributeNamesOf(kind)
  const t0 = Date.now()
  for (let i = 0; i < n; i++) {
    const s = drawSample(kind, deriveSeed(7, kind, i), size)
    let rgb = s.rgb
    if (jpeg && kind !== 'ultrasound')
      rgb = new Uint8Array(
        await sharp(Buffer.from(s.rgb), {raw: {width: size, height: size, channels: 3}})
          .jpeg({quality: 95})
          .raw()
          .toBuffer()
      )
    const data = Float32Array.from(rgb, v => v / 255)
    const input = {data, width: size, height: size, channels: 3}
    const m = measureAttributes(input, estimated ? estimateMask(input, kind) : s.mask, kind)
    for (const a of names) {
      const truth = s.attributes[a],
        got = m.attributes[a]
      if (truth === got) agree[a] = (agree[a] ?? 0) + 1
      else {
        confusion[a] ??= {}
        const k = `${truth}->${got}`
        confusion[a][k] = (confusion[a][k] ?? 0) + 1
      }
      const key = a === 'shape' ? (truth === 'irregular' ? 'solidity' : 'eccentricity') : deciding[a]
      const measureKey =
        a === 'texture' && kind !== 'dermoscopy' ? (kind === 'ultrasound' ? 'speckle' : 'darkFraction') : key
      if (measureKey) {
        stats[a] ??= {}
        ;(stats[a][truth] ??= []).push(Number(m.measures[measureKey as keyof Measures] ?? NaN))
      }
      if (a === 'texture' && kind === 'dermoscopy') {
        stats['largestShare'] ??= {}
        ;(stats['largestShare'][truth] ??= []).push(m.measures.largestShare ?? NaN)
        stats['meanComponent'] ??= {}
        ;(stats['meanComponent'][truth] ??= []).push(m.measures.meanComponent ?? NaN)
      }
      if (a === 'shape') {
        stats['shape-ecc'] ??= {}
        ;(stats['shape-ecc'][truth] ??= []).push(m.measures.eccentricity ?? NaN)
      }
    }
  }
  console.log(
    `\n== ${kind}: ${n} images at ${size}px (${jpeg ? 'JPEG q95 round trip' : 'raw'}, ${estimated ? 'estimated masks' : 'true masks'}), ${((Date.now() - t0) / 1000).toFixed(1)} s`
  )
  for (const a of names)
    console.log(`  ${a.padEnd(16)} ${((100 * (agree[a] ?? 0)) / n).toFixed(1)}%  ${JSON.stringify(confusion[a] ?? {})}`)
  const q = (v: number[], p: number) => {
    const s = v.filter(Number.isFinite).sort((x, y) => x - y)
    return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(3) : '-'
  }
  for (const [a, byTruth] of Object.entries(stats))
    for (const [t, v] of Object.entries(byTruth))
      console.log(`    ${a}/${t}: p5 ${q(v, 0.05)} p50 ${q(v, 0.5)} p95 ${q(v, 0.95)} (n=${v.length})`)
}
