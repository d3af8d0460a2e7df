// Run configs (issue 2, item 3): defaults, nearest-key typos, wrong types, ranges, YAML syntax
// errors with line:column, --set and flag overrides, and the documented schema.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {loadConfig} from '../../src/config/load.js'
import {configSchema} from '../../src/config/schema.js'
import {listKeys, nearest} from '../../src/config/keys.js'
import {tmpDir} from '../helpers/tmp.js'
import {expectUserErrorSync} from '../helpers/user-error.js'

const dir = tmpDir()
function yamlFile(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describe('config', () => {
  it('defaults fill every key when no file is given', () => {
    const config = loadConfig()
    expect(config.dit.lora.rank).to.equal(8)
    expect(config.dit.conditioning).to.equal('hffm')
    expect(config.run.seed).to.be.a('number')
    // every key has a default, except those declared optional on purpose (overrides of a preset)
    const isOptional = (path: string) => {
      let node: any = configSchema
      for (const part of path.split('.')) {
        while (node.def.type !== 'object') node = node.def.innerType // sections wrapped in default()
        node = node.shape[part]
      }
      return node.def.type === 'optional'
    }
    for (const key of listKeys(configSchema)) {
      const value = key.path.split('.').reduce<any>((node, part) => node?.[part], config)
      if (value === undefined)
        expect(isOptional(key.path), `${key.path} has no default and is not optional`).to.equal(true)
    }
  })

  it('a typo names the file, the key path and the nearest valid key', () => {
    const file = yamlFile('typo.yaml', 'dit:\n  lora:\n    rnk: 4\n')
    expect(expectUserErrorSync(() => loadConfig({file}))).to.equal(
      `${file}: dit.lora.rnk: unknown key; did you mean dit.lora.rank?`
    )
    const section = yamlFile('section.yaml', 'ditt:\n  steps: 3\n')
    expect(expectUserErrorSync(() => loadConfig({file: section}))).to.equal(
      `${section}: ditt: unknown key; did you mean dit?`
    )
  })

  it('wrong types, out-of-range numbers and bad enum values are one line each', () => {
    const wrongType = yamlFile('type.yaml', 'dit:\n  lora:\n    rank: eight\n')
    expect(expectUserErrorSync(() => loadConfig({file: wrongType}))).to.equal(
      `${wrongType}: dit.lora.rank: wrong type, expected number`
    )
    const notSection = yamlFile('notsection.yaml', 'dit: 5\n')
    expect(expectUserErrorSync(() => loadConfig({file: notSection}))).to.include('dit: wrong type, expected a section')
    const range = yamlFile('range.yaml', 'dit:\n  lora:\n    rank: 0\n')
    expect(expectUserErrorSync(() => loadConfig({file: range}))).to.equal(
      `${range}: dit.lora.rank: out of range, must be >= 1`
    )
    const fraction = yamlFile('fraction.yaml', 'dit:\n  condDropout: 1.5\n')
    expect(expectUserErrorSync(() => loadConfig({file: fraction}))).to.equal(
      `${fraction}: dit.condDropout: out of range, must be <= 1`
    )
    const choice = yamlFile('enum.yaml', 'dit:\n  conditioning: clip\n')
    expect(expectUserErrorSync(() => loadConfig({file: choice}))).to.equal(
      `${choice}: dit.conditioning: must be one of hffm, concat, text, class`
    )
  })

  it('YAML syntax errors give file:line:column', () => {
    const file = yamlFile('syntax.yaml', 'run:\n  seed: 3\ndit:\n  lora: {rank: 4\n  steps: 2\n')
    const message = expectUserErrorSync(() => loadConfig({file}))
    expect(message).to.match(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: YAML syntax error`))
    const [, line] = message.slice(file.length).split(':')
    expect(Number(line)).to.be.within(4, 6)
    const tabs = yamlFile('tabs.yaml', 'dit:\n\tsteps: 2\n')
    expect(expectUserErrorSync(() => loadConfig({file: tabs}))).to.include(`${tabs}:2:`)
  })

  it('--set overrides the file, flags override --set; --set mistakes name the --set', () => {
    const file = yamlFile('base.yaml', 'dit:\n  lora:\n    rank: 4\n  steps: 10\n')
    expect(loadConfig({file}).dit.lora.rank).to.equal(4)
    const set = loadConfig({file, sets: ['dit.lora.rank=16', 'dit.conditioning=text', 'run.dir=runs/x']})
    expect([set.dit.lora.rank, set.dit.conditioning, set.run.dir, set.dit.steps]).to.deep.equal([
      16,
      'text',
      'runs/x',
      10
    ])
    const flags = loadConfig({
      file,
      sets: ['dit.lora.rank=16'],
      overrides: {'dit.lora.rank': 32, 'dit.steps': undefined}
    })
    expect([flags.dit.lora.rank, flags.dit.steps]).to.deep.equal([32, 10])
    expect(expectUserErrorSync(() => loadConfig({sets: ['dit.lora.rnk=4']}))).to.equal(
      '--set dit.lora.rnk: dit.lora.rnk: unknown key; did you mean dit.lora.rank?'
    )
    expect(expectUserErrorSync(() => loadConfig({sets: ['dit.lora.rank=many']}))).to.include(
      'dit.lora.rank: wrong type'
    )
    expect(expectUserErrorSync(() => loadConfig({sets: ['novalue']}))).to.include('expected key.path=value')
  })

  it('key paths refuse __proto__/constructor/prototype and never pollute Object.prototype (issue 23, class 4)', () => {
    for (const set of [
      '__proto__.polluted=1',
      'run.__proto__.polluted=1',
      'constructor.prototype.polluted=1',
      'dit.prototype=1'
    ]) {
      const message = expectUserErrorSync(() => loadConfig({sets: [set]}))
      expect(message).to.match(/"(__proto__|constructor|prototype)" is not allowed in a key path/)
      expect(message.startsWith(`--set ${set.split('=')[0]}`), message).to.equal(true)
    }
    const file = yamlFile('proto.yaml', 'run:\n  __proto__:\n    polluted: 1\n')
    expect(expectUserErrorSync(() => loadConfig({file}))).to.equal(
      `${file}: run.__proto__: "__proto__" is not allowed as a key`
    )
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined)
  })

  it('caption.host must be an http(s) URL (the ollama client would print a stack trace for it)', () => {
    expect(expectUserErrorSync(() => loadConfig({sets: ['caption.host=not a url']}))).to.equal(
      '--set caption.host: caption.host: not an http(s) URL, e.g. http://127.0.0.1:11434'
    )
    expect(loadConfig({sets: ['caption.host=localhost:11434']}).caption.host).to.equal('localhost:11434')
  })

  it('a YAML alias bomb is refused by the yaml guard as a one-line user error', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 1; i < 9; i++)
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill('*' + String.fromCharCode(96 + i))
          .join(', ')}]`
      )
    const file = yamlFile('bomb.yaml', levels.join('\n') + '\n')
    expect(expectUserErrorSync(() => loadConfig({file}))).to.match(/bomb\.yaml: YAML rejected: .*alias/i)
  })

  it('a missing config file is a one-line error', () => {
    expect(expectUserErrorSync(() => loadConfig({file: join(dir, 'absent.yaml')}))).to.include('no such file')
  })

  it('the schema documents every key with a type, a default and a one-line description', () => {
    const keys = listKeys(configSchema)
    expect(keys.length).to.be.above(30)
    const rank = keys.find(k => k.path === 'dit.lora.rank')!
    expect(rank).to.include({type: 'number', default: 8})
    expect(rank.doc).to.match(/rank/i)
    for (const k of keys) {
      expect(k.doc, `${k.path} has no description`).to.not.equal('')
      expect(k.doc, `${k.path}: description spans lines`).to.not.include('\n')
    }
    expect(nearest('rnk', ['rank', 'alpha', 'targets'])).to.equal('rank')
    expect(nearest('zzzzzz', ['rank', 'alpha'])).to.equal(null)
  })
})
