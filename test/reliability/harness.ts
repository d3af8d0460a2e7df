// Fault-injection harness: runs medgen as a child process (bin/run.js on the build that
// `npm test` makes first, exactly what users run), optionally kills it with SIGKILL at a chosen training step or
// after a delay, and returns exit code, stdout and stderr.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

export const repoRoot = new URL('../../', import.meta.url).pathname

/** Full suite (npm run test:reliability) or the reduced CI version. */
export const fullSuite = process.env.MEDGEN_RELIABILITY === 'full'

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

export interface RunOptions {
  env?: Record<string, string>
  cwd?: string
  /** SIGKILL the child after this training step (the child kills itself right after the step, before any checkpoint of it) */
  crashAfterStep?: number
  /** send this signal once stderr matches `signalWhen` */
  signal?: NodeJS.Signals
  signalWhen?: RegExp
  /** send SIGKILL after this many ms */
  killAfterMs?: number
  /** polled every 10 ms: send `signal` (SIGKILL if none) as soon as it returns true (e.g. "n lines written") */
  when?: () => boolean
  /** send the same signal again this many ms after the first (a second Ctrl-C) */
  repeatSignalAfterMs?: number
  timeoutMs?: number
  input?: string
  uid?: number
  gid?: number
}

export function runMedgen(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {...(process.env as Record<string, string>), MEDGEN_QUIET: '', ...opts.env}
    if (opts.crashAfterStep !== undefined) env.MEDGEN_CRASH_AFTER_STEP = String(opts.crashAfterStep)
    const child = spawn(process.execPath, [join(repoRoot, 'bin/run.js'), ...args], {
      cwd: opts.cwd ?? repoRoot,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      uid: opts.uid,
      gid: opts.gid
    })
    let stdout = ''
    let stderr = ''
    let signalled = false
    child.stdout.on('data', d => {
      stdout += d
    })
    child.stderr.on('data', d => {
      stderr += d
      if (opts.signal && opts.signalWhen && !signalled && opts.signalWhen.test(stderr)) {
        signalled = true
        child.kill(opts.signal)
      }
    })
    if (opts.input !== undefined) child.stdin.end(opts.input)
    else child.stdin.end()
    const timers: NodeJS.Timeout[] = []
    if (opts.killAfterMs !== undefined) timers.push(setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs))
    let poll: NodeJS.Timeout | undefined
    if (opts.when) {
      const when = opts.when
      const sig = opts.signal ?? 'SIGKILL'
      poll = setInterval(() => {
        let hit = false
        try {
          hit = when()
        } catch {
          /* file not there yet */
        }
        if (!hit) return
        clearInterval(poll)
        child.kill(sig)
        if (opts.repeatSignalAfterMs !== undefined)
          timers.push(setTimeout(() => child.kill(sig), opts.repeatSignalAfterMs))
      }, 10)
    }
    timers.push(setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t)
      if (poll) clearInterval(poll)
      resolve({code, signal, stdout, stderr, ms: Date.now() - started})
    })
  })
}

/** sha256 of every file under a folder (relative path -> hash), to prove nothing was damaged. */
export function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string, rel: string) => {
    let entries: string[]
    try {
      entries = readdirSync(d)
    } catch {
      return
    }
    for (const name of entries.sort()) {
      const p = join(d, name)
      const st = statSync(p)
      if (st.isDirectory()) walk(p, rel ? `${rel}/${name}` : name)
      else out[rel ? `${rel}/${name}` : name] = createHash('sha256').update(readFileSync(p)).digest('hex')
    }
  }
  walk(dir, '')
  return out
}

/** The user-facing part of stderr: medgen's own lines. */
export function medgenLines(stderr: string): string[] {
  return stderr.split('\n').filter(l => l.startsWith('medgen:'))
}

/** Counters printed at the end of the suite (issue 12: "its counts are printed"). */
export const counters = {killResumeCycles: 0, signalStops: 0, badInputs: 0, leaksFound: 0, soakRuns: 0}

/** Progress lines (`caption 3/8 (1.2 img/s)`) are not part of a refusal. */
const progressLine = / \d+\/\d+ \(.*\/s/

export interface Refusal {
  /** the exit code, or the codes any of which will do */
  exit: number | number[]
  /** what the one medgen line must say */
  message: RegExp
  /** the medgen lines the message must be the only one of (default: all but progress lines) */
  pick?: (lines: string[]) => string[]
  opts?: RunOptions
}

/**
 * Runs medgen on a bad input as a user would and checks the refusal every bad-input case
 * expects: the exit code, ONE medgen line matching `message`, no stack trace, and every file
 * that was under `dir` before byte-identical afterwards. Returns the run and its line.
 */
export async function expectRefusal(
  dir: string,
  args: string[],
  want: Refusal
): Promise<{result: RunResult; line: string}> {
  const before = hashTree(dir)
  const result = await runMedgen(args, {timeoutMs: 60_000, ...want.opts})
  const all = medgenLines(result.stderr).filter(l => !progressLine.test(l))
  const lines = want.pick ? want.pick(all) : all
  const tail = result.stderr.slice(-2000)
  if (Array.isArray(want.exit)) expect(result.code, tail).to.be.oneOf(want.exit)
  else expect(result.code, tail).to.equal(want.exit)
  expect(lines.length, tail).to.equal(1)
  expect(lines[0], lines[0]).to.match(want.message)
  if (process.env.MEDGEN_REL_VERBOSE) console.log(`      ${lines[0]} (exit ${result.code})`)
  expect(result.stderr, 'a stack trace').to.not.match(/\n\s+at .*:\d+:\d+\)?(\n|$)/)
  const after = hashTree(dir)
  for (const [file, hash] of Object.entries(before)) expect(after[file], `${file} changed`).to.equal(hash)
  counters.badInputs++
  return {result, line: lines[0]}
}
