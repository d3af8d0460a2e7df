import {Args, Command, loadHelpClass} from '@oclif/core'

// `medgen help caption` = `medgen caption --help`. Written here rather than taken from
// @oclif/plugin-help (the same few lines around core's own Help class) so that no worktree or
// installed copy can lack a plugin that package.json names.
export default class HelpCommand extends Command {
  static description = 'Show help for medgen or for one command (same as `medgen COMMAND --help`).'
  static examples = ['<%= config.bin %> help caption', '<%= config.bin %> help config schema']
  static args = {command: Args.string({description: 'command to explain', required: false})}
  static strict = false

  async run(): Promise<void> {
    const {argv} = await this.parse(HelpCommand)
    const Help = await loadHelpClass(this.config)
    await new Help(this.config, this.config.pjson.oclif.helpOptions).showHelp(argv as string[])
  }
}
