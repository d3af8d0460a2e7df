// SDNet sizes (docs/REFERENCE.md §3.1). The authors' network is fixed at 224 px / ndf 64; the small
// preset keeps every ratio but scales the widths with ndf so the demo trains on two CPU cores.
import {UserError} from '../../errors.js'

export type AdainForm = 'scalar' | 'learned'

export interface SdnetConfig {
  /** square input side; a multiple of 16 (four 2x poolings in the U-Net and four stride-2 convs in the style encoder) */
  imageSize: number
  /** U-Net base width (docs/REFERENCE.md §3.1: 64) */
  ndf: number
  /** anatomy factors, the channels of the one-hot map (8) */
  anatomyChannels: number
  /** style code length (8) */
  zLength: number
  /** AdaIN form: `scalar` = the authors' z mean/std on every channel; `learned` = per-channel scale/shift from z */
  adain: AdainForm
  /** segmentation head width (authors: 64 = ndf at ndf 64) */
  segWidth: number
  /** AdaIN decoder widths (authors: 128, 64, 32 = 2, 1, 1/2 x ndf at ndf 64) */
  decoderWidths: [number, number, number]
}

export type SdnetPreset = 'sdnet-224' | 'sdnet-small'

export const SDNET_PRESETS: Record<SdnetPreset, {imageSize: number; ndf: number}> = {
  'sdnet-224': {imageSize: 224, ndf: 64},
  'sdnet-small': {imageSize: 64, ndf: 16}
}

/** Builds a config: at ndf 64 the head and decoder widths are exactly the authors' 64 and 128/64/32. */
export function sdnetConfig(opts: {
  imageSize: number
  ndf: number
  adain?: AdainForm
  anatomyChannels?: number
  zLength?: number
}): SdnetConfig {
  const {imageSize, ndf} = opts
  if (!Number.isInteger(imageSize) || imageSize < 16 || imageSize % 16 !== 0) {
    throw new UserError(`visual: image size ${imageSize} must be a multiple of 16 (the U-Net pools four times)`)
  }
  if (!Number.isInteger(ndf) || ndf < 2 || ndf % 2 !== 0)
    throw new UserError(`visual: ndf ${ndf} must be an even integer >= 2`)
  return {
    imageSize,
    ndf,
    anatomyChannels: opts.anatomyChannels ?? 8,
    zLength: opts.zLength ?? 8,
    adain: opts.adain ?? 'scalar',
    segWidth: ndf,
    decoderWidths: [ndf * 2, ndf, ndf / 2]
  }
}

export function presetConfig(
  preset: SdnetPreset,
  adain: AdainForm,
  overrides: {imageSize?: number; ndf?: number} = {}
): SdnetConfig {
  const base = SDNET_PRESETS[preset]
  return sdnetConfig({imageSize: overrides.imageSize ?? base.imageSize, ndf: overrides.ndf ?? base.ndf, adain})
}

/** Spatial side after the style encoder's four stride-2, padding-1, 3x3 convs: ceil(s/2) four times. */
export function styleFeatureSide(imageSize: number): number {
  let s = imageSize
  for (let i = 0; i < 4; i++) s = Math.floor((s + 2 - 3) / 2) + 1
  return s
}

/** Input width of the style encoder's Linear (docs/REFERENCE.md §3.2: 128 x 14 x 14 = 25088 at 224). */
export function styleFlattenSize(imageSize: number): number {
  const side = styleFeatureSide(imageSize)
  return 128 * side * side
}
