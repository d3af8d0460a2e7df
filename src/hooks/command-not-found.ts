// A mistyped command (`medgen captio`) gets one line with the nearest command and exit 2.
// Our own hook rather than @oclif/plugin-not-found: that plugin asks "did you mean ...? (Y/n)"
// through @inquirer/prompts on a terminal, which a Slurm script or a pasted command line should
// never meet, and it adds a dependency tree for the 15 lines below (levenshtein is in config/keys).
import type {Hook} from '@oclif/core'
import {nearest} from '../config/keys.js'

const hook: Hook.CommandNotFound = async function (opts) {
  const ids = opts.config.commands.filter(c => !c.hidden).map(c => c.id.replaceAll(':', ' '))
  const typed = opts.id.replaceAll(':', ' ')
  const guess = nearest(typed, ids) ?? nearest(typed.split(' ')[0], ids)
  const hint = guess
    ? `did you mean \`${opts.config.bin} ${guess}\`?`
    : `\`${opts.config.bin} --help\` lists the commands`
  process.stderr.write(`${opts.config.bin}: ${typed} is not a ${opts.config.bin} command; ${hint}\n`)
  process.exitCode = 2
  // oclif's runner throws "command not found" unless the hook reports a result.
  return undefined as never
}

export default hook
