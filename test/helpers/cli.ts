// Runs the built CLI (bin/run.js -> dist/) as a user would, building dist/ first when src/ is newer.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name)
    newest = Math.max(
      newest,
      entry.isDirectory() ? newestSource(path) : entry.name.endsWith('.ts') ? statSync(path).mtimeMs : 0
    )
  }
  return newest
}

/** Compiles dist/ and the oclif manifest when they are missing or older than src/. */
export function ensureBuilt(): void {
  const stamp = join(repoRoot, 'oclif.manifest.json')
  if (
    existsSync(join(repoRoot, 'dist', 'commands')) &&
    existsSync(stamp) &&
    statSync(stamp).mtimeMs >= newestSource(join(repoRoot, 'src'))
  )
    return
  const tsc = spawnSync(
    process.execPath,
    [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {cwd: repoRoot, encoding: 'utf8'}
  )
  if (tsc.status !== 0)
    console.warn(
      `      (tsc reported type errors; testing the emitted JavaScript)\n${tsc.stdout.split('\n').slice(0, 5).join('\n')}`
    )
  const manifest = spawnSync(process.execPath, ['scripts/manifest.mjs'], {cwd: repoRoot, encoding: 'utf8'})
  if (manifest.status !== 0) throw new Error(`building the oclif manifest failed: ${manifest.stderr}`)
}

export interface CliResult {
  status: number | null
  stdout: string
  stderr: string
  ms: number
}

/** `medgen ...args` from `cwd` (default the repo root), with MEDGEN_QUIET unless env says otherwise. */
export function medgen(args: string[], opts: {cwd?: string; env?: Record<string, string | undefined>} = {}): CliResult {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'run.js'), ...args], {
    cwd: opts.cwd ?? repoRoot,
    encoding: 'utf8',
    env: {...process.env, MEDGEN_DEBUG: '', ...opts.env}
  })
  return {status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0}
}

/** Like `medgen` but without blocking the event loop, for tests that serve something in-process (a fake Ollama). */
export function medgenAsync(
  args: string[],
  opts: {cwd?: string; env?: Record<string, string | undefined>} = {}
): Promise<CliResult> {
  const t0 = performance.now()
  return new Promise(resolve => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'run.js'), ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: {...process.env, MEDGEN_DEBUG: '', ...opts.env},
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => {
      stdout += d
    })
    child.stderr.on('data', d => {
      stderr += d
    })
    child.on('exit', code => resolve({status: code, stdout, stderr, ms: performance.now() - t0}))
  })
}
