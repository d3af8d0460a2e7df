import {Args} from '@oclif/core'
import {stringify} from 'yaml'
import {MedgenCommand, commonFlags} from '../cli/base-command.js'
import {configSchema} from '../config/schema.js'
import {listKeys} from '../config/keys.js'

export default class Config extends MedgenCommand {
  static description = `Show, validate or document run configs.

show      print the resolved config (file + --set + defaults) as YAML
validate  check a config; exit 2 with the key and the problem if it is wrong
schema    list every key with its type, default and a one-line description`

  static examples = [
    '<%= config.bin %> config show --config configs/demo.yaml',
    '<%= config.bin %> config validate --config my.yaml --set dit.lora.rank=16',
    '<%= config.bin %> config schema'
  ]

  static args = {
    action: Args.string({
      description: 'show, validate or schema',
      options: ['show', 'validate', 'schema'],
      required: true
    })
  }

  static flags = {...commonFlags}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Config)
    if (args.action === 'schema') {
      for (const k of listKeys(configSchema)) {
        this.log(`${k.path}  (${k.type}, default ${JSON.stringify(k.default)})\n    ${k.doc}`)
      }
      return
    }
    const config = this.loadRunConfig(flags)
    if (args.action === 'show') this.log(stringify(config).trimEnd())
    else this.log(`${flags.config ?? 'defaults'}: valid`)
  }
}
