// The whole config: one section per stage plus the shared `run` and `weights`.
// Each section lives in its own file under sections/ with its defaults and docs.
import {z} from 'zod'
import {runSection} from './sections/run.js'
import {dataSection} from './sections/data.js'
import {synthSection} from './sections/synth.js'
import {captionSection} from './sections/caption.js'
import {visualSection} from './sections/visual.js'
import {textSection} from './sections/text.js'
import {ditSection} from './sections/dit.js'
import {generateSection} from './sections/generate.js'
import {evalSection} from './sections/eval.js'
import {classifySection} from './sections/classify.js'
import {weightsSection} from './sections/weights.js'

export const configSchema = z
  .object({
    run: runSection,
    weights: weightsSection,
    synth: synthSection,
    data: dataSection,
    caption: captionSection,
    visual: visualSection,
    text: textSection,
    dit: ditSection,
    generate: generateSection,
    eval: evalSection,
    classify: classifySection
  })
  .strict()

export type MedgenConfig = z.infer<typeof configSchema>
