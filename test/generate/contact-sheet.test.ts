// Contact sheets: tiles in a grid with the prompt rendered as text under each.
import {join} from 'node:path'
import {expect} from 'chai'
import sharp from 'sharp'
import {captionHalves, escapeXml, labelLines, wrapText, writeContactSheet} from '../../src/util/contact-sheet.js'
import {renderCaption} from '../../src/caption/vocab.js'
import {tmpDir} from '../helpers/tmp.js'

describe('generate: contact sheet', () => {
  it('wraps and escapes labels', () => {
    expect(wrapText('one two three four five', 9, 2)).to.deep.equal(['one two', 'three…'])
    expect(wrapText('short', 20, 3)).to.deep.equal(['short'])
    expect(escapeXml('a<b & "c"\u0001')).to.equal('a&lt;b &amp; &quot;c&quot; ')
  })

  it('a caption label shows its anatomy and its style half, each from its start, not a truncated prefix', () => {
    const {caption, anatomy, style} = renderCaption('dermoscopy', 'mel', {
      shape: 'irregular',
      symmetry: 'asymmetric',
      border: 'blurred',
      size: 'large',
      colour: 'dark brown',
      secondaryColour: 'blue-grey',
      texture: 'reticular'
    })
    expect(captionHalves(caption)).to.deep.equal({anatomy, style})
    expect(captionHalves('a dark lesion, free text')).to.equal(null)
    const lines = labelLines(caption, 21, 6)
    expect(lines).to.have.length.at.most(6)
    for (const l of lines) expect(l.length).to.be.at.most(21)
    const styleAt = lines.findIndex(l => l.startsWith('Style: '))
    expect(lines[0]).to.match(/^Anatomy: irregular,/)
    expect(styleAt, lines.join(' | ')).to.be.greaterThan(0)
    expect(lines.slice(styleAt).join(' ')).to.include('dark brown')
    // four lines: the style half still gets two
    const four = labelLines(caption, 21, 4)
    expect(four.map(l => l.split(':')[0]).filter(h => h === 'Anatomy' || h === 'Style')).to.deep.equal([
      'Anatomy',
      'Style'
    ])
    expect(four.findIndex(l => l.startsWith('Style: '))).to.equal(2)
    expect(labelLines('one two three four five', 9, 2)).to.deep.equal(['one two', 'three…'])
  })

  it('lays out tiles with their prompts as text', async () => {
    const dir = tmpDir()
    const files: string[] = []
    for (let i = 0; i < 5; i++) {
      const file = join(dir, `${i}.png`)
      const px = Buffer.alloc(16 * 16 * 3, 40 * i)
      await sharp(px, {raw: {width: 16, height: 16, channels: 3}})
        .png()
        .toFile(file)
      files.push(file)
    }
    const out = join(dir, 'sheet.png')
    const r = await writeContactSheet(
      out,
      files.map((file, i) => ({file, label: `prompt <${i}> & a long tail of words that wraps`})),
      {title: 'mel: 5 samples', tile: 64}
    )
    const {data, info} = await sharp(out).raw().toBuffer({resolveWithObject: true})
    expect([info.width, info.height]).to.deep.equal([r.width, r.height])
    expect(r.images).to.equal(5)
    // 3 columns x 2 rows of 64-px tiles
    expect(info.width).to.equal(3 * (64 + 6) + 6)
    // the first tile is the black image, enlarged (nearest) to 64 px
    const titleH = 13 + 12
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels]
    expect(at(6 + 32, titleH + 6 + 32)).to.equal(0)
    // text under the first tile: some dark pixels in the label band, on a white background
    let dark = 0
    for (let y = titleH + 6 + 64; y < titleH + 6 + 64 + 4 * 13; y++)
      for (let x = 6; x < 70; x++) if (at(x, y) < 128) dark++
    expect(dark).to.be.greaterThan(20)
  })
})
