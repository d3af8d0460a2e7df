// Times `medgen synth` (issue 3: 1,000 images at 64 px in under 30 s) for each kind.
//   node --import tsx scripts/synth-speed.ts [n=1000] [size=64]
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {synthesize} from '../src/data/synth/write.js'

const n = Number(process.argv[2] ?? 1000), size = Number(process.argv[3] ?? 64)
const dir = mkdtempSync(join(tmpdir(), 'medgen-synth-speed-'))
try {
  for (const kind of ['dermoscopy', 'polyp', 'ultrasound'] as const) {
    const r = await synthesize({kind, n, size, out: join(dir, kind), seed: 1})
    console.log(`${kind}: ${r.count} images at ${size} px in ${r.seconds.toFixed(2)} s (${(r.count / r.seconds).toFixed(0)}/s) ${JSON.stringify(r.classes)}`)
  }
} finally { rmSync(dir, {recursive: true, force: true}) }
