// Resource limits for reading user files: every size a file declares in its header (image
// dimensions, a zip entry's inflated size) is checked against these before anything is
// allocated, so a 140 KB PNG declaring 12000×12000 pixels or a zip entry that inflates to
// gigabytes is refused with one line instead of taking the machine's memory.
// Set from the run config (run.maxImagePixels, run.maxInflatedBytes) by every command that loads
// one (src/cli/base-command.ts); the defaults apply elsewhere. README "Reliability" documents them.
import {UserError} from '../errors.js'

export interface ReadLimits {
  /** Largest width × height an input image may declare (sharp's limitInputPixels). */
  maxImagePixels: number
  /** Largest size a compressed zip entry (.npz member, torch data.pkl) may inflate to. */
  maxInflatedBytes: number
}

/** 40 megapixels: an 8K frame (33 MP) fits, a whole-slide image does not (decoding takes ~4 bytes a pixel per copy). */
export const DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
/** 1 GiB: a pytorch-fid .npz of 50k×2048 float64 activations (800 MB) fits. */
export const DEFAULT_MAX_INFLATED_BYTES = 1024 ** 3

const current: ReadLimits = {maxImagePixels: DEFAULT_MAX_IMAGE_PIXELS, maxInflatedBytes: DEFAULT_MAX_INFLATED_BYTES}

export function readLimits(): Readonly<ReadLimits> {
  return current
}

export function setReadLimits(limits: Partial<ReadLimits>): void {
  if (limits.maxImagePixels !== undefined) current.maxImagePixels = limits.maxImagePixels
  if (limits.maxInflatedBytes !== undefined) current.maxInflatedBytes = limits.maxInflatedBytes
}

/** Options for every sharp() that opens a user's image: libvips refuses larger images before decoding. */
export function sharpInputLimits(): {limitInputPixels: number} {
  return {limitInputPixels: current.maxImagePixels}
}

/** Throws unless width × height is within run.maxImagePixels (checked from the header, before decoding). */
export function checkImagePixels(path: string, width: number | undefined, height: number | undefined): void {
  if (width === undefined || height === undefined) return
  if (width * height > current.maxImagePixels) {
    throw new UserError(
      `${path}: image declares ${width}×${height} pixels (${((width * height) / 1e6).toFixed(1)} MP), ` +
        `above the limit of ${(current.maxImagePixels / 1e6).toFixed(1)} MP; raise it with --set run.maxImagePixels=N if the image is genuine`
    )
  }
}

/** Throws unless a zip entry's declared inflated size is within run.maxInflatedBytes. */
export function checkInflatedSize(source: string, declared: number): void {
  if (declared > current.maxInflatedBytes) {
    throw new UserError(
      `${source}: declares ${declared} bytes once inflated, above the limit of ${current.maxInflatedBytes} ` +
        `(raise it with --set run.maxInflatedBytes=N if the file is genuine)`
    )
  }
}
