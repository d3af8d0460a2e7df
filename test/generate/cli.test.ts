// `medgen generate` as a command (the oclif class from src, run in-process): user mistakes
// print one line on stderr and exit 2.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {expect} from 'chai'
import Generate from '../../src/commands/generate.js'
import {tmpDir} from '../helpers/tmp.js'
import {useTestBackend} from '../helpers/backend.js'
import {makeRun} from './fakes.js'

const root = new URL('../../', import.meta.url).pathname

async function medgenGenerate(args: string[]): Promise<{exit: number | undefined; stderr: string}> {
  let stderr = ''
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString()
    return true
  }) as typeof process.stderr.write
  const savedExitCode = process.exitCode
  let exit: number | undefined
  try {
    await Generate.run(args, root)
    exit = 0
  } catch (err) {
    exit = (err as {oclif?: {exit?: number}}).oclif?.exit
  } finally {
    process.stderr.write = write
    process.exitCode = savedExitCode
  }
  return {exit, stderr}
}

describe('generate: command-line errors', function () {
  this.timeout(120_000)
  before(async () => {
    await useTestBackend()
  }) // the command then finds it initialised (run.backend auto)

  it('bad prompt file, unknown class, missing artifacts, bad guidance: exit 2 with one line naming the problem', async () => {
    const dir = makeRun(tmpDir(), {artifacts: false})
    writeFileSync(join(dir, 'prompts.txt'), '\n# nothing here\n')
    const cases: Array<[string[], RegExp]> = [
      [['--prompts', join(dir, 'prompts.txt')], /^medgen: --prompts .*prompts\.txt: no prompts found/],
      [['--prompts', join(dir, 'absent.txt')], /^medgen: --prompts .*absent\.txt: no such file or directory$/],
      [
        ['--per-class', '1', '--class', 'bogus'],
        /^medgen: --class bogus: unknown class; the classes in .* are mel, nv$/
      ],
      [['--prompt', 'a lesion'], /^medgen: .*text\/model\.safetensors: missing; run `medgen align-text` first$/],
      [['--prompt', 'a lesion', '--guidance', 'lots'], /^medgen: --guidance lots: expected a number >= 0/],
      [['--prompt', 'a lesion', '--shard', '3/2'], /^medgen: --shard 3\/2: shard index must be in 0..1$/]
    ]
    for (const [args, pattern] of cases) {
      const r = await medgenGenerate(['--run-dir', dir, ...args])
      expect(r.exit, `${args.join(' ')}: ${r.stderr}`).to.equal(2)
      const lines = r.stderr.trim().split('\n')
      expect(lines.length, r.stderr).to.equal(1)
      expect(lines[0]).to.match(pattern)
    }
  })
})
