// The stand-in DiT training set of the demo-DiT scripts (demo-dit-check, demo-dit-sweep): n
// synthetic dermoscopy images drawn at 64 px and resized to `side`, pixels in [-1, 1], with
// class one-hot as "style" and lesion area as "anatomy" features (no SDNet or text stage needed).
import sharp from 'sharp'
import {drawSample} from '../../../src/data/synth/sample.js'
import type {Placement} from '../../../src/data/synth/shape.js'
import type {DitTrainingSet} from '../../../src/stages/dit/batch.js'

export async function syntheticDitExamples(
  n: number,
  side: number,
  placement: Placement = 'anywhere'
): Promise<{samples: Float32Array[]; examples: DitTrainingSet['examples']; classes: string[]}> {
  const samples: Float32Array[] = []
  const examples: DitTrainingSet['examples'] = []
  const classes: string[] = []
  for (let i = 0; i < n; i++) {
    const s = drawSample('dermoscopy', 1000 + i, 64, placement)
    if (!classes.includes(s.className)) classes.push(s.className)
    const raw = await sharp(Buffer.from(s.rgb), {raw: {width: 64, height: 64, channels: 3}})
      .resize(side, side, {fit: 'cover', kernel: 'lanczos3'})
      .raw()
      .toBuffer()
    samples.push(Float32Array.from(raw, v => v / 127.5 - 1))
    const style = new Float32Array(8)
    style[classes.indexOf(s.className)] = 1
    const area = s.mask.reduce((a, b) => a + b, 0) / s.mask.length
    const anatomy = new Float32Array(8)
    anatomy[0] = area * 4
    anatomy[1] = 1 - area
    examples.push({id: String(i), classIndex: classes.indexOf(s.className), anatomy, style})
  }
  return {samples, examples, classes}
}
