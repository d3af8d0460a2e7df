// Controllability metrics on synth images with known attributes. The segmentation head is
// injected (here: the renderer's true mask, looked up by image content) so the test checks
// eval's own logic: measuring, per-attribute accuracy, and the style/anatomy swap pairing.
import {expect} from 'chai'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {createHash} from 'node:crypto'
import sharp from 'sharp'
import {tmpDir} from '../helpers/tmp.js'
import {loadConfig} from '../../src/config/load.js'
import {appendLineDurable} from '../../src/io/atomic.js'
import {drawSample, renderAttributes} from '../../src/data/synth/sample.js'
import {
  computeControl,
  controlMetrics,
  maskIoU,
  type ControlImage,
  type ControlRecord
} from '../../src/stages/eval/control.js'

const size = 64

describe('eval control (synth attributes)', function () {
  this.timeout(120000)
  it('per-attribute accuracy against prompted attributes, style-swap mask IoU and anatomy-swap colour pairs', async () => {
    const runDir = tmpDir()
    const truth = new Map<string, Uint8Array>()
    const masksById = new Map<string, Uint8Array>()
    let n = 0
    const write = async (
      sample: {rgb: Uint8Array; mask: Uint8Array; className: string; attributes: Record<string, string>},
      seed: number
    ) => {
      const id = `g${n++}`
      const file = `samples/${sample.className}/${id}.png`
      await fs.mkdir(join(runDir, 'samples', sample.className), {recursive: true})
      await sharp(Buffer.from(sample.rgb), {raw: {width: size, height: size, channels: 3}})
        .png()
        .toFile(join(runDir, file))
      truth.set(createHash('sha256').update(Buffer.from(sample.rgb)).digest('hex'), sample.mask)
      masksById.set(id, sample.mask)
      await appendLineDurable(
        join(runDir, 'samples', 'manifest.jsonl'),
        JSON.stringify({
          id,
          file,
          class: sample.className,
          prompt: 'p',
          seed,
          sampler: 'test',
          steps: 0,
          guidance: 0,
          seconds: 0,
          source: 'grid',
          attributes: sample.attributes
        })
      )
      return id
    }
    for (let i = 0; i < 6; i++) await write(drawSample('dermoscopy', 70 + i, size), 70 + i)
    // A style swap and an anatomy swap of one base sample, same seed.
    const base = drawSample('dermoscopy', 90, size)
    const styleSwapped = {
      ...base.attributes,
      colour: base.attributes.colour === 'dark brown' ? 'light brown' : 'dark brown'
    }
    const anatomySwapped = {...base.attributes, size: base.attributes.size === 'large' ? 'small' : 'large'}
    const baseId = await write(renderAttributes('dermoscopy', base.className, base.attributes, 90, size), 90)
    const styleId = await write(renderAttributes('dermoscopy', base.className, styleSwapped, 90, size), 90)
    await write(renderAttributes('dermoscopy', base.className, anatomySwapped, 90, size), 90)
    const segment = async (img: ControlImage) => {
      const rgb8 = Uint8Array.from(img.data, v => Math.round(v * 255))
      const mask = truth.get(createHash('sha256').update(Buffer.from(rgb8)).digest('hex'))
      if (!mask) throw new Error('unknown image')
      return mask
    }
    const config = loadConfig({sets: [`run.dir=${runDir}`, 'synth.kind=dermoscopy']})
    const r = await computeControl(config, runDir, segment)
    expect(r.skipped).to.equal(undefined)
    expect(r.nGen).to.equal(9)
    const acc = r.perAttributeAccuracy as Record<string, number>
    expect(Object.keys(acc)).to.include.members(['shape', 'border', 'symmetry', 'size', 'colour', 'texture'])
    for (const v of Object.values(acc)) expect(v).to.be.within(0, 1)
    expect(r.styleSwapPairs).to.equal(1)
    expect(r.styleSwapMaskIoU).to.be.closeTo(maskIoU(masksById.get(baseId)!, masksById.get(styleId)!), 1e-12)
    expect(r.anatomySwapPairs).to.equal(1)
    expect(r.anatomySwapColourDeltaE).to.be.a('number')
    console.log(
      `      accuracy ${JSON.stringify(Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, +v.toFixed(2)])))}; anatomy ${(r.anatomyAccuracy as number).toFixed(2)}, style ${(r.styleAccuracy as number).toFixed(2)}; ` +
        `style-swap IoU ${(r.styleSwapMaskIoU as number).toFixed(3)}; anatomy-swap ΔE ${(r.anatomySwapColourDeltaE as number).toFixed(2)}`
    )
  })

  it('gain against its references: true renders of the prompts score 1, a generator that ignores the fine-grained prompt scores 0', async () => {
    const dir = tmpDir()
    const truth = new Map<string, Uint8Array>()
    const renders: Array<{path: string; cls: string; attributes: Record<string, string>}> = []
    for (let i = 0; i < 40; i++) {
      const s = drawSample('dermoscopy', 300 + i, size, 'centred')
      const path = join(dir, `r${i}.png`)
      await sharp(Buffer.from(s.rgb), {raw: {width: size, height: size, channels: 3}})
        .png()
        .toFile(path)
      truth.set(createHash('sha256').update(Buffer.from(s.rgb)).digest('hex'), s.mask)
      renders.push({path, cls: s.className, attributes: s.attributes})
    }
    const segment = async (img: ControlImage) =>
      truth.get(
        createHash('sha256')
          .update(Buffer.from(Uint8Array.from(img.data, v => Math.round(v * 255))))
          .digest('hex')
      )!
    const real = {paths: renders.map(r => r.path), attributes: renders.map(r => r.attributes)}
    const faithful: ControlRecord[] = renders.map((r, i) => ({
      id: `f${i}`,
      path: r.path,
      seed: i,
      class: r.cls,
      attributes: r.attributes
    }))
    const good = await controlMetrics(faithful, 'dermoscopy', segment, {real})
    const gain = good.gain as {anatomy: number; style: number}
    expect(gain.anatomy).to.be.closeTo(1, 1e-3)
    expect(gain.style).to.be.closeTo(1, 1e-3)
    const shuffled = good.shuffled as {withinClass: {anatomy: number}; all: {anatomy: number}}
    expect(shuffled.withinClass.anatomy).to.be.below(good.anatomyAccuracy as number)
    // the same image (the class's first render) for every prompt of a class
    const firstOfClass = new Map<string, string>()
    for (const r of renders) if (!firstOfClass.has(r.cls)) firstOfClass.set(r.cls, r.path)
    const ignoring: ControlRecord[] = renders.map((r, i) => ({...faithful[i], path: firstOfClass.get(r.cls)!}))
    const bad = await controlMetrics(ignoring, 'dermoscopy', segment, {real})
    const badGain = bad.gain as {anatomy: number; style: number}
    expect(badGain.anatomy).to.be.closeTo(0, 1e-3)
    expect(badGain.style).to.be.closeTo(0, 1e-3)
    console.log(
      `      faithful: anatomy ${(good.anatomyAccuracy as number).toFixed(3)} vs shuffled ${shuffled.withinClass.anatomy.toFixed(3)}; ignoring: gain ${badGain.anatomy.toFixed(3)} / ${badGain.style.toFixed(3)}`
    )
  })

  it('says what it needs when the run has no samples or no segmentation head', async () => {
    const runDir = tmpDir()
    const config = loadConfig({sets: [`run.dir=${runDir}`]})
    expect((await computeControl(config, runDir)).skipped).to.match(/run `medgen generate`/)
    await appendLineDurable(
      join(runDir, 'samples', 'manifest.jsonl'),
      JSON.stringify({id: 'a', file: 'samples/x/a.png', class: 'x', seed: 1, attributes: {shape: 'round'}})
    )
    expect((await computeControl(config, runDir)).skipped).to.match(
      /visual\/model\.safetensors; run `medgen train-visual`/
    )
  })
})
