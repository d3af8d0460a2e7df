// Temporary folders for tests, removed after the run.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const made: string[] = []
export function tmpDir(prefix = 'medgen-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}
process.on('exit', () => {
  for (const d of made)
    try {
      rmSync(d, {recursive: true, force: true})
    } catch {
      /* ignore */
    }
})

/** Absolute path of a golden fixture folder (test/fixtures/golden, copied from the reference generators; see its README). */
export const goldenDir = new URL('../fixtures/golden/', import.meta.url).pathname

/** elementwise |a-b| <= atol + rtol*|b|; returns the worst violation ratio and max abs diff. */
export function compareArrays(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number
): {ok: boolean; maxAbs: number; worstIndex: number} {
  if (actual.length !== expected.length) return {ok: false, maxAbs: Infinity, worstIndex: -1}
  let ok = true
  let maxAbs = 0
  let worstIndex = -1
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i])
    if (!(d <= atol + rtol * Math.abs(expected[i]))) {
      ok = false
      if (worstIndex < 0) worstIndex = i
    }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d
  }
  return {ok, maxAbs, worstIndex}
}
