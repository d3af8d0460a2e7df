// Small hand-made image folders for the caption tests, and the answers a well-behaved model
// would give for them.
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'
import type {CaptionItem} from '../../src/caption/captioner.js'
import {attributeGroups} from '../../src/data/attributes.js'

/** `<root>/<class>/img_<k>.png`, each a distinct solid colour (so every base64 differs). */
export async function makeImageFolder(root: string, n: number, classes = ['mel', 'nv']): Promise<CaptionItem[]> {
  const items: CaptionItem[] = []
  for (let k = 0; k < n; k++) {
    const className = classes[k % classes.length]
    mkdirSync(join(root, className), {recursive: true})
    const file = `${className}/img_${String(k).padStart(3, '0')}.png`
    await sharp({
      create: {width: 8, height: 8, channels: 3, background: {r: (k * 37) % 256, g: (k * 11) % 256, b: k % 256}}
    })
      .png()
      .toFile(join(root, file))
    items.push({
      id: `img_${String(k).padStart(3, '0')}`,
      image: join(root, file),
      masks: [],
      className,
      split: k % 5 === 0 ? 'test' : 'train',
      file
    })
  }
  return items
}

/** A valid dermoscopy answer that depends on the image, so tests can check which went where. */
export function dermoscopyAnswerFor(index: number): Record<string, string> {
  const g = attributeGroups.dermoscopy
  const pick = (values: readonly string[], salt: number) => values[(index + salt) % values.length]
  return {
    shape: pick(g.anatomy.shape, 0),
    border: pick(g.anatomy.border, 1),
    symmetry: pick(g.anatomy.symmetry, 2),
    size: pick(g.anatomy.size, 3),
    colour: pick(g.style.colour, 4),
    secondaryColour: pick(g.style.secondaryColour, 5),
    texture: pick(g.style.texture, 6)
  }
}

/** Index of the image a chat request is about, found from its base64 among the items'. */
export function indexOfImage(body: any, base64ByIndex: string[]): number {
  const image = body?.messages?.find((m: any) => m.images)?.images?.[0]
  return base64ByIndex.indexOf(image)
}
