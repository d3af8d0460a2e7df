// The measured captioner (the embedded default): the attributes come from image + mask
// (src/caption/measure*.ts: shape, border, symmetry, size from the mask and the edge profile;
// colour and texture from the lesion pixels), then the same vocabulary renders the same
// caption fields the VLM path writes. No model, no server, deterministic.
import {UserError} from '../errors.js'
import {measureAttributes} from './measure.js'
import {decodeImage, decodeMask} from '../data/image-io.js'
import {vocabularies} from './vocab.js'
import {UNKNOWN} from '../data/attributes.js'
import {CaptionFailure, type CaptionItem, type CaptionOutcome, type Captioner} from './captioner.js'
import type {DatasetKind} from '../data/attributes.js'

export class MeasuredCaptioner implements Captioner {
  constructor(
    private readonly kind: DatasetKind,
    private readonly onCorrupt: 'error' | 'skip' = 'error'
  ) {}

  get notes(): Record<string, unknown> {
    return {captioner: 'measured', kind: this.kind, model: null, digest: null}
  }

  async prepare(): Promise<void> {}

  async caption(item: CaptionItem): Promise<CaptionOutcome> {
    let attributes: Record<string, string>
    try {
      const image = await decodeImage(item.image)
      const mask = item.masks.length > 0 ? await decodeMaskUnion(item.masks, image.width, image.height) : null
      attributes = measureAttributes(image, mask, this.kind).attributes
    } catch (err) {
      // Unreadable files already carry a one-line message naming the file (src/data/image-io.ts).
      if (this.onCorrupt === 'error')
        throw err instanceof UserError
          ? err
          : new UserError(`${item.file}: cannot measure: ${String((err as Error)?.message ?? err).split('\n')[0]}`)
      throw new CaptionFailure(String((err as Error)?.message ?? err).split('\n')[0], 1)
    }
    // Without a mask the anatomy cannot be measured: those attributes are "unknown", the
    // caption leaves them out, and the record lists them (issue 4: "said so in the record").
    const unknown = Object.keys(attributes).filter(name => attributes[name] === UNKNOWN)
    const rendered = vocabularies[this.kind].render(item.className, attributes)
    return {
      attributes,
      anatomy: rendered.anatomy,
      style: rendered.style,
      caption: rendered.caption,
      source: 'measured',
      ...(unknown.length > 0 ? {unknown} : {})
    }
  }
}

/** The union of the masks (BUSI has several masks per image); each must have the image's size. */
async function decodeMaskUnion(paths: string[], width: number, height: number): Promise<Uint8Array> {
  const union = new Uint8Array(width * height)
  for (const path of paths) {
    const mask = await decodeMask(path)
    // A mask drawn for another size would be stretched without a word: refuse it.
    if (mask.width !== width || mask.height !== height) {
      throw new UserError(`${path}: mask is ${mask.width}×${mask.height} but its image is ${width}×${height}`)
    }
    for (let i = 0; i < union.length; i++) union[i] |= mask.data[i]
  }
  return union
}
