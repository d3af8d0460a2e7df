// Flags that set a config key say which key and its default in --help. The flag itself carries
// no oclif default: a flag default would always override the config file.
import {configSchema} from '../config/schema.js'
import {listKeys} from '../config/keys.js'

let defaults: Map<string, unknown> | null = null

export function configDefault(key: string): unknown {
  defaults ??= new Map(listKeys(configSchema).map(k => [k.path, k.default]))
  if (!defaults.has(key)) throw new Error(`configHelp: ${key} is not a config key`)
  return defaults.get(key)
}

/** "<text> (config <key>, default <value>)" */
export function configHelp(key: string, text: string): string {
  const value = configDefault(key)
  const shown = Array.isArray(value) ? value.join(',') : value === '' ? '""' : String(value)
  return `${text} (config ${key}, default ${shown})`
}
