// Help that names the pipeline order on `medgen --help`, so newcomers see how commands chain.
import {Help} from '@oclif/core'

export default class MedgenHelp extends Help {
  formatRoot(): string {
    return (
      super.formatRoot() +
      '\n\nPIPELINE\n  synth -> caption -> train-visual -> align-text -> finetune-dit -> generate -> classify -> eval\n  `medgen run configs/demo.yaml` runs them all on the embedded default.'
    )
  }
}
