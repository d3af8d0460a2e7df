// Bad-input corpus, part 1: configs, flags and weight files. Each case runs the CLI as a
// user would and expects a given exit code and ONE medgen line naming the file or key,
// and no stack trace; files that existed before are unchanged (hash check).
import {writeFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {tmpDir} from '../helpers/tmp.js'
import {safetensorsClaiming, safetensorsWithHeader} from '../helpers/hostile-files.js'
import {expectRefusal} from './harness.js'

interface Case {
  name: string
  setup: (dir: string) => string[]
  exit: number
  message: RegExp
}

const cases: Case[] = [
  {
    name: 'YAML syntax error names line and column',
    exit: 2,
    message: /bad\.yaml:\d+:\d+: YAML syntax error/,
    setup: d => {
      writeFileSync(join(d, 'bad.yaml'), 'run:\n  dir: x\n  seed: [1, 2\n')
      return ['config', 'validate', '--config', join(d, 'bad.yaml')]
    }
  },
  {
    name: 'unknown key with nearest valid key',
    exit: 2,
    message: /dit\.lora\.rnk: unknown key; did you mean dit\.lora\.rank\?/,
    setup: d => {
      writeFileSync(join(d, 'c.yaml'), 'dit:\n  lora:\n    rnk: 8\n')
      return ['config', 'validate', '--config', join(d, 'c.yaml')]
    }
  },
  {
    name: 'unknown section',
    exit: 2,
    message: /ditt: unknown key; did you mean dit\?/,
    setup: d => {
      writeFileSync(join(d, 'c.yaml'), 'ditt:\n  steps: 3\n')
      return ['config', 'validate', '--config', join(d, 'c.yaml')]
    }
  },
  {
    name: 'wrong type',
    exit: 2,
    message: /run\.seed: wrong type, expected number/,
    setup: d => {
      writeFileSync(join(d, 'c.yaml'), 'run:\n  seed: forty-two\n')
      return ['config', 'validate', '--config', join(d, 'c.yaml')]
    }
  },
  {
    name: 'negative LoRA rank',
    exit: 2,
    message: /dit\.lora\.rank: out of range, must be >= 1/,
    setup: () => ['config', 'validate', '--set', 'dit.lora.rank=-4']
  },
  {
    name: 'guidance below zero',
    exit: 2,
    message: /generate\.guidance: out of range, must be >= 0/,
    setup: () => ['config', 'validate', '--set', 'generate.guidance=-1']
  },
  {
    name: 'enum value not allowed',
    exit: 2,
    message: /generate\.sampler: must be one of/,
    setup: () => ['config', 'validate', '--set', 'generate.sampler=euler']
  },
  {
    name: 'section given a scalar',
    exit: 2,
    message: /dit: wrong type, expected a section/,
    setup: d => {
      writeFileSync(join(d, 'c.yaml'), 'dit: 3\n')
      return ['config', 'validate', '--config', join(d, 'c.yaml')]
    }
  },
  {
    name: 'top level not a mapping',
    exit: 2,
    message: /expected a mapping of sections/,
    setup: d => {
      writeFileSync(join(d, 'c.yaml'), '- a\n- b\n')
      return ['config', 'validate', '--config', join(d, 'c.yaml')]
    }
  },
  {
    name: 'config file missing',
    exit: 2,
    message: /nope\.yaml: no such file or directory/,
    setup: d => ['config', 'validate', '--config', join(d, 'nope.yaml')]
  },
  {
    name: 'malformed --set',
    exit: 2,
    message: /--set dit\.lora\.rank: expected key\.path=value/,
    setup: () => ['config', 'validate', '--set', 'dit.lora.rank']
  },
  {
    name: 'unknown --backend',
    exit: 2,
    message: /Expected --backend=tpu to be one of: auto, tensorflow-gpu/,
    setup: () => ['config', 'validate', '--backend', 'tpu']
  },
  // issue 23: hostile inputs
  {
    name: '--set __proto__.x=1 is refused by name and pollutes nothing',
    exit: 2,
    message: /^medgen: --set __proto__\.polluted: __proto__\.polluted: "__proto__" is not allowed in a key path$/,
    setup: () => ['config', 'validate', '--set', '__proto__.polluted=1']
  },
  {
    name: 'YAML alias bomb: the yaml guard is a one-line user error',
    exit: 2,
    message: /bomb\.yaml: YAML rejected: .*alias/i,
    setup: d => {
      const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
      for (let i = 1; i < 9; i++)
        levels.push(
          `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
            .fill('*' + String.fromCharCode(96 + i))
            .join(', ')}]`
        )
      writeFileSync(join(d, 'bomb.yaml'), levels.join('\n') + '\n')
      return ['config', 'validate', '--config', join(d, 'bomb.yaml')]
    }
  },
  {
    name: 'safetensors header that is JSON but not an object',
    exit: 2,
    message: /list\.safetensors: safetensors header: \(top level\): expected an object/,
    setup: d => {
      writeFileSync(join(d, 'list.safetensors'), safetensorsWithHeader('[1, 2]'))
      return [
        'forward',
        '--arch',
        'pixart',
        '--weights',
        d,
        '--inputs',
        join(d, 'list.safetensors'),
        '--out',
        join(d, 'o.safetensors')
      ]
    }
  },
  {
    name: 'output path below an existing file (ENOTDIR/EEXIST)',
    exit: 2,
    message: /afile\/sub\/o\.safetensors: (not a directory|already exists and is not a directory)/,
    setup: d => {
      writeFileSync(join(d, 'afile'), 'x')
      const g = new URL('../fixtures/golden/pixart-tiny/', import.meta.url).pathname
      return [
        'forward',
        '--arch',
        'pixart',
        '--weights',
        g,
        '--inputs',
        join(g, 'inputs.safetensors'),
        '--out',
        join(d, 'afile', 'sub', 'o.safetensors')
      ]
    }
  },
  {
    name: 'safetensors offsets out of range',
    exit: 2,
    message: /lying\.safetensors: tensor x: data offsets \[0, 4000\] out of range/,
    setup: d => {
      writeFileSync(
        join(d, 'lying.safetensors'),
        safetensorsWithHeader(JSON.stringify({x: {dtype: 'F32', shape: [1000], data_offsets: [0, 4000]}}), 16)
      )
      return [
        'forward',
        '--arch',
        'pixart',
        '--weights',
        d,
        '--inputs',
        join(d, 'lying.safetensors'),
        '--out',
        join(d, 'o.safetensors')
      ]
    }
  },
  {
    name: 'safetensors overlapping tensors',
    exit: 2,
    message: /overlap\.safetensors: tensors a and b overlap/,
    setup: d => {
      writeFileSync(
        join(d, 'overlap.safetensors'),
        safetensorsWithHeader(
          JSON.stringify({
            a: {dtype: 'F32', shape: [4], data_offsets: [0, 16]},
            b: {dtype: 'F32', shape: [4], data_offsets: [8, 24]}
          }),
          24
        )
      )
      return [
        'forward',
        '--arch',
        'pixart',
        '--weights',
        d,
        '--inputs',
        join(d, 'overlap.safetensors'),
        '--out',
        join(d, 'o.safetensors')
      ]
    }
  },
  {
    name: 'safetensors header longer than the file',
    exit: 2,
    message: /short\.safetensors: not a safetensors file \(header length/,
    setup: d => {
      writeFileSync(join(d, 'short.safetensors'), safetensorsClaiming(1 << 20, '{}'))
      return [
        'forward',
        '--arch',
        'pixart',
        '--weights',
        d,
        '--inputs',
        join(d, 'short.safetensors'),
        '--out',
        join(d, 'o.safetensors')
      ]
    }
  },
  {
    name: 'zero-byte safetensors',
    exit: 2,
    message: /empty\.safetensors: not a safetensors file \(0 bytes/,
    setup: d => {
      writeFileSync(join(d, 'empty.safetensors'), '')
      return [
        'forward',
        '--arch',
        'pixart',
        '--weights',
        d,
        '--inputs',
        join(d, 'empty.safetensors'),
        '--out',
        join(d, 'o.safetensors')
      ]
    }
  },
  {
    name: 'unknown forward architecture',
    exit: 2,
    message: /--arch resnet-9000: unknown architecture; known:/,
    setup: d => ['forward', '--arch', 'resnet-9000', '--weights', d, '--inputs', join(d, 'x'), '--out', join(d, 'y')]
  },
  {
    name: 'unknown --from stage',
    exit: 2,
    message: /--from=painting to be one of: synth, caption, train-visual/,
    setup: d => {
      writeFileSync(join(d, 'c.yaml'), `run:\n  dir: ${join(d, 'run')}\n`)
      return ['run', join(d, 'c.yaml'), '--from', 'painting']
    }
  }
]

describe('reliability: bad inputs (configs, flags, weight files)', function () {
  this.timeout(60_000)
  for (const c of cases) {
    it(c.name, async () => {
      const dir = tmpDir()
      mkdirSync(join(dir, 'keep'), {recursive: true})
      writeFileSync(join(dir, 'keep', 'precious.txt'), 'already written')
      await expectRefusal(dir, c.setup(dir), c)
    })
  }
})
