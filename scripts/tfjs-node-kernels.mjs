#!/usr/bin/env node
// Regenerates test/fixtures/backends/tfjs-node-4.22.0-kernels.json: the kernel names that
// @tensorflow/tfjs-node registers for its 'tensorflow' backend (the GPU build registers the same
// list), read from the package's published JavaScript. `npm pack` fetches the tarball from the
// registry; the native libtensorflow binary is not needed. register_all_kernels.js names each
// kernel config; each dist/kernels/<X>.js gives its kernelName as a tfjs-core constant
// (tfjs_1.Abs or tfjs_core_1.FlipLeftRight), resolved here through the installed @tensorflow/tfjs-core of the same version.
// What the JavaScript says about dtypes is recorded too (`dtypes`): the TensorFlow ops each kernel
// executes, a type attribute `T` it fixes instead of taking it from the input (Conv2DBackpropInput
// always asks for float32), and inputs it converts first (ArgMax: bool -> int32). Which dtypes
// each native op accepts is not in the JavaScript (it is libtensorflow's kernel registry); see
// test/fixtures/backends/libtensorflow-2.9.1-cpu-types.json.
// Usage: node scripts/tfjs-node-kernels.mjs [version]   (default 4.22.0)
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const version = process.argv[2] ?? '4.22.0'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const core = await import('@tensorflow/tfjs-core')
const coreVersion = JSON.parse(
  readFileSync(join(root, 'node_modules/@tensorflow/tfjs-core/package.json'), 'utf8')
).version
if (coreVersion !== version)
  console.warn(`warning: resolving kernel-name constants with tfjs-core ${coreVersion}, not ${version}`)

/**
 * What one kernel's JavaScript says about dtypes: `ops`, the TensorFlow ops it executes (given
 * as a string or a tfjs-core constant); `T`, the value of the type attribute T where the source
 * fixes it ('float32') instead of passing an input's dtype; `converts`, input dtypes it converts
 * before the native call (`if (x.dtype === 'bool') { x = x.toInt() }` -> {bool: 'int32'});
 * `passThrough`, a kernel that returns its input's data without running a native op.
 */
function dtypeFacts(source) {
  const facts = {}
  const ops = new Set()
  for (const m of source.matchAll(
    /\.execute(?:SingleOutput|MultipleOutputs|SingleInput)\(\s*(?:'(\w+)'|tfjs(?:_core)?_1\.(\w+))/g
  ))
    ops.add(m[1] ?? core[m[2]] ?? m[2])
  if (ops.size) facts.ops = [...ops].sort()
  const fixedT = /createTensorsTypeOpAttr\)\('T', '(\w+)'\)/.exec(source)
  if (fixedT) facts.T = fixedT[1]
  const converts = {}
  for (const m of source.matchAll(/if \(\w+\.dtype === '(\w+)'\) \{\s*\w+ = \w+\.(toInt|toFloat)\(\)/g))
    converts[m[1]] = m[2] === 'toInt' ? 'int32' : 'float32'
  if (Object.keys(converts).length) facts.converts = converts
  // Identity hands back its input's data (incRef): no native op, so any dtype passes
  if (!ops.size && /\.incRef\(/.test(source) && !/execute|tidy/.test(source)) facts.passThrough = true
  return facts
}

const work = mkdtempSync(join(tmpdir(), 'tfjs-node-pack-'))
try {
  const tarball = execFileSync(
    'npm',
    ['pack', `@tensorflow/tfjs-node@${version}`, '--pack-destination', work, '--silent'],
    {encoding: 'utf8'}
  )
    .trim()
    .split('\n')
    .at(-1)
  execFileSync('tar', ['-xzf', join(work, tarball), '-C', work])
  const dist = join(work, 'package', 'dist')
  const registry = readFileSync(join(dist, 'register_all_kernels.js'), 'utf8')
  const moduleOf = new Map(
    [...registry.matchAll(/var (\w+) = require\("\.\/kernels\/(\w+)"\)/g)].map(m => [m[1], m[2]])
  )
  const listStart = registry.indexOf('kernelConfigs')
  if (listStart < 0) throw new Error('register_all_kernels.js: no kernelConfigs list (layout changed?)')
  const kernels = new Set()
  const dtypes = {}
  for (const [, variable, configName] of registry.slice(listStart).matchAll(/(\w+)\.(\w+Config)\b/g)) {
    const file = moduleOf.get(variable)
    if (!file) continue
    const source = readFileSync(join(dist, 'kernels', `${file}.js`), 'utf8')
    const m = new RegExp(`exports\\.${configName} = \\{\\s*kernelName: (?:tfjs(?:_core)?_1\\.(\\w+)|'([^']+)')`).exec(
      source
    )
    if (!m) throw new Error(`kernels/${file}.js: no kernelName for ${configName}`)
    const name = m[2] ?? core[m[1]]
    if (typeof name !== 'string') throw new Error(`kernels/${file}.js: tfjs-core exports no kernel name ${m[1]}`)
    kernels.add(name)
    const facts = dtypeFacts(source)
    if (Object.keys(facts).length) dtypes[name] = facts
  }
  if (kernels.size < 100) throw new Error(`only ${kernels.size} kernels found; the package layout may have changed`)
  const out = join(root, 'test', 'fixtures', 'backends', `tfjs-node-${version}-kernels.json`)
  mkdirSync(dirname(out), {recursive: true})
  writeFileSync(
    out,
    JSON.stringify(
      {
        package: '@tensorflow/tfjs-node',
        version,
        backend: 'tensorflow',
        source: `npm pack @tensorflow/tfjs-node@${version}: dist/register_all_kernels.js + dist/kernels/*.js (kernel-name constants resolved with @tensorflow/tfjs-core ${coreVersion})`,
        regenerate: `node scripts/tfjs-node-kernels.mjs ${version}`,
        kernels: [...kernels].sort(),
        dtypes: Object.fromEntries(Object.entries(dtypes).sort(([a], [b]) => (a < b ? -1 : 1)))
      },
      null,
      1
    ) + '\n'
  )
  console.log(`${out}: ${kernels.size} kernels`)
} finally {
  rmSync(work, {recursive: true, force: true})
}
