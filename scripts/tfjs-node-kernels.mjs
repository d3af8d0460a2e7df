#!/usr/bin/env node
// Regenerates test/fixtures/backends/tfjs-node-4.22.0-kernels.json: the kernel names that
// @tensorflow/tfjs-node registers for its 'tensorflow' backend (the GPU build registers the same
// list), read from the package's published JavaScript. `npm pack` fetches the tarball from the
// registry; the native libtensorflow binary is not needed. register_all_kernels.js names each
// kernel config; each dist/kernels/<X>.js gives its kernelName as a tfjs-core constant
// (tfjs_1.Abs or tfjs_core_1.FlipLeftRight), resolved here through the installed @tensorflow/tfjs-core of the same version.
// Usage: node scripts/tfjs-node-kernels.mjs [version]   (default 4.22.0)
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const version = process.argv[2] ?? '4.22.0'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const core = await import('@tensorflow/tfjs-core')
const coreVersion = JSON.parse(readFileSync(join(root, 'node_modules/@tensorflow/tfjs-core/package.json'), 'utf8')).version
if (coreVersion !== version) console.warn(`warning: resolving kernel-name constants with tfjs-core ${coreVersion}, not ${version}`)

const work = mkdtempSync(join(tmpdir(), 'tfjs-node-pack-'))
try {
  const tarball = execFileSync('npm', ['pack', `@tensorflow/tfjs-node@${version}`, '--pack-destination', work, '--silent'], {encoding: 'utf8'}).trim().split('\n').at(-1)
  execFileSync('tar', ['-xzf', join(work, tarball), '-C', work])
  const dist = join(work, 'package', 'dist')
  const registry = readFileSync(join(dist, 'register_all_kernels.js'), 'utf8')
  const moduleOf = new Map([...registry.matchAll(/var (\w+) = require\("\.\/kernels\/(\w+)"\)/g)].map(m => [m[1], m[2]]))
  const listStart = registry.indexOf('kernelConfigs')
  if (listStart < 0) throw new Error('register_all_kernels.js: no kernelConfigs list (layout changed?)')
  const kernels = new Set()
  for (const [, variable, configName] of registry.slice(listStart).matchAll(/(\w+)\.(\w+Config)\b/g)) {
    const file = moduleOf.get(variable)
    if (!file) continue
    const source = readFileSync(join(dist, 'kernels', `${file}.js`), 'utf8')
    const m = new RegExp(`exports\\.${configName} = \\{\\s*kernelName: (?:tfjs(?:_core)?_1\\.(\\w+)|'([^']+)')`).exec(source)
    if (!m) throw new Error(`kernels/${file}.js: no kernelName for ${configName}`)
    const name = m[2] ?? core[m[1]]
    if (typeof name !== 'string') throw new Error(`kernels/${file}.js: tfjs-core exports no kernel name ${m[1]}`)
    kernels.add(name)
  }
  if (kernels.size < 100) throw new Error(`only ${kernels.size} kernels found; the package layout may have changed`)
  const out = join(root, 'test', 'fixtures', 'backends', `tfjs-node-${version}-kernels.json`)
  mkdirSync(dirname(out), {recursive: true})
  writeFileSync(out, JSON.stringify({
    package: '@tensorflow/tfjs-node', version, backend: 'tensorflow',
    source: `npm pack @tensorflow/tfjs-node@${version}: dist/register_all_kernels.js + dist/kernels/*.js (kernel-name constants resolved with @tensorflow/tfjs-core ${coreVersion})`,
    regenerate: `node scripts/tfjs-node-kernels.mjs ${version}`,
    kernels: [...kernels].sort(),
  }, null, 1) + '\n')
  console.log(`${out}: ${kernels.size} kernels`)
} finally { rmSync(work, {recursive: true, force: true}) }
