// The control section of report.html (issue 19): the control figure and control read against
// its references (eval/metrics.json metrics.control: shuffled prompts, ceilings, gain, swaps), the
// first thing a reader of a controllable-generation result looks for.
import {promises as fs} from 'node:fs'
import {runLayout} from '../run/layout.js'
import {esc} from './html.js'

const num = (v: unknown): string => (typeof v === 'number' ? v.toFixed(3) : '–')

interface Group {
  anatomy?: number | null
  style?: number | null
  perAttribute?: Record<string, number | null>
}
interface ControlMetric {
  skipped?: string
  anatomyAccuracy?: number | null
  styleAccuracy?: number | null
  perAttributeAccuracy?: Record<string, number>
  shuffled?: {withinClass?: Group; all?: Group}
  ceiling?: {real?: Group; decoded?: Group; decoder?: string}
  gain?: (Group & {ceilingUsed?: string}) | null
  styleSwapPairs?: number
  styleSwapMaskIoU?: number | null
  anatomySwapPairs?: number
  anatomySwapColourAgreement?: number | null
}

/** The targets issue 19 sets for the demo, shown next to the figures. */
const targets = {gain: 0.5, styleSwapMaskIoU: 0.7, anatomySwapColourAgreement: 0.7}

export async function controlSection(runDir: string): Promise<string | null> {
  const layout = runLayout(runDir)
  let control: ControlMetric | undefined
  try {
    control = JSON.parse(await fs.readFile(layout.eval.metrics, 'utf8'))?.metrics?.control
  } catch {
    control = undefined
  }
  let figure = ''
  try {
    const png = await fs.readFile(layout.samples.controlGrid)
    figure =
      `<figure><img alt="control grid" src="data:image/png;base64,${png.toString('base64')}"><figcaption>samples/control-grid.png: one seed and prompt; ` +
      'each row changes one anatomy word, each column the colour word</figcaption></figure>'
  } catch {
    /* no control grid asked for */
  }
  if (!control && !figure) return null
  const parts = ['<h2 id="control">Control: do the prompt\'s words steer the image?</h2>', figure]
  if (control && !control.skipped) {
    const row = (label: string, key: 'anatomy' | 'style', acc: number | null | undefined) =>
      `<tr><th>${label}</th><td>${num(acc)}</td>` +
      `<td>${num(control!.shuffled?.withinClass?.[key])}</td><td>${num(control!.shuffled?.all?.[key])}</td>` +
      `<td>${num(control!.ceiling?.real?.[key])}</td><td>${num(control!.ceiling?.decoded?.[key])}</td>` +
      `<td><b>${num(control!.gain?.[key])}</b></td></tr>`
    parts.push(
      '<table><tr><th></th><th>accuracy</th><th>shuffled within class</th><th>shuffled across all</th><th>ceiling: real</th>' +
        `<th>ceiling: decoded</th><th>gain (target ≥ ${targets.gain})</th></tr>` +
        row('anatomy words (shape, border, symmetry, size)', 'anatomy', control.anatomyAccuracy) +
        row('style words (colour, texture)', 'style', control.styleAccuracy) +
        '</table>'
    )
    const attrs = Object.keys(control.perAttributeAccuracy ?? {})
    parts.push(
      '<table><tr><th>attribute</th><th>accuracy</th><th>shuffled within class</th><th>ceiling used</th><th>gain</th></tr>' +
        attrs
          .map(a => {
            const ceiling =
              control!.gain?.ceilingUsed === 'decoded' ? control!.ceiling?.decoded : control!.ceiling?.real
            return (
              `<tr><td>${esc(a)}</td><td>${num(control!.perAttributeAccuracy?.[a])}</td><td>${num(control!.shuffled?.withinClass?.perAttribute?.[a])}</td>` +
              `<td>${num(ceiling?.perAttribute?.[a])}</td><td>${num(control!.gain?.perAttribute?.[a])}</td></tr>`
            )
          })
          .join('') +
        '</table>'
    )
    parts.push(
      `<p>Swaps (same seed, one half of the prompt changed): style words changed → lesion mask IoU <b>${num(control.styleSwapMaskIoU)}</b> ` +
        `over ${control.styleSwapPairs ?? 0} pairs (target ≥ ${targets.styleSwapMaskIoU}); anatomy words changed → same colour word in ` +
        `<b>${num(control.anatomySwapColourAgreement)}</b> of ${control.anatomySwapPairs ?? 0} pairs (target ≥ ${targets.anatomySwapColourAgreement}).</p>`
    )
    parts.push(
      "<p>How to read it: the accuracy is measured on the generated images with the run's own segmenter and attribute measurement; " +
        '"shuffled within class" is what a generator that reads only the class would score, "ceiling" what the measurement (and the decoder) allows. ' +
        'gain = (accuracy − shuffled within class) / (ceiling − shuffled within class): 0 = the words beyond the class do nothing, 1 = as controllable as the decoder allows.' +
        (control.ceiling?.decoder ? ` Decoder: ${esc(control.ceiling.decoder)}.` : '') +
        '</p>'
    )
  } else if (control?.skipped) parts.push(`<p>control skipped: ${esc(control.skipped)}</p>`)
  return `<section>${parts.join('\n')}</section>`
}
