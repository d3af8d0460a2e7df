import {Flags} from '@oclif/core'
import {MedgenCommand} from '../cli/base-command.js'
import {UserError} from '../errors.js'
import {architectures} from '../models/registry.js'

export default class Forward extends MedgenCommand {
  static summary = "Run one model's forward pass on named inputs (check a converted checkpoint against a reference)."

  static description = `Run one model family's forward pass on named inputs and write named outputs, to check a
converted checkpoint against a reference. Input/output names are the PyTorch ones, e.g.
pixart: hidden_states, encoder_hidden_states, encoder_attention_mask, timestep -> sample;
bert: input_ids, attention_mask, token_type_ids -> last_hidden_state, pooler_output, mean_pooled.`

  static examples = [
    '<%= config.bin %> forward --arch pixart --weights ./transformer --inputs in.safetensors --out out.safetensors',
    '<%= config.bin %> forward --arch bert --weights ./Bio_ClinicalBERT --inputs io.safetensors --out bert.safetensors'
  ]

  static flags = {
    arch: Flags.string({description: 'architecture name (see --help for the list)', required: true}),
    weights: Flags.string({description: 'weights file or Hugging Face folder', required: true}),
    inputs: Flags.string({description: 'safetensors file of named inputs', required: true}),
    out: Flags.string({description: 'safetensors file to write the outputs to', required: true}),
    option: Flags.string({description: 'architecture option key=value (repeatable)', multiple: true}),
    backend: Flags.string({description: 'tfjs backend: auto, wasm, cpu, tensorflow, tensorflow-gpu'})
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Forward)
    const load = architectures[flags.arch]
    if (!load) {
      const known = Object.keys(architectures)
      throw new UserError(
        `--arch ${flags.arch}: unknown architecture; known: ${known.length ? known.join(', ') : '(none registered yet)'}`
      )
    }
    const {initBackend} = await import('../backend/index.js')
    await initBackend((flags.backend as any) ?? 'auto')
    const {readSafetensors, writeSafetensors} = await import('../io/safetensors.js')
    const arch = await load()
    const options = Object.fromEntries(
      (flags.option ?? []).map(o => {
        const i = o.indexOf('=')
        return [o.slice(0, i), o.slice(i + 1)]
      })
    )
    const outputs = await arch.run(flags.weights, await readSafetensors(flags.inputs), options)
    await writeSafetensors(flags.out, outputs, {producer: `medgen forward --arch ${flags.arch}`})
    this.log(`${flags.out}: ${[...outputs.keys()].join(', ')}`)
  }
}
