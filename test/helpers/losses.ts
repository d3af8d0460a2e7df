// losses.jsonl (src/train/losses-log.ts) in tests: read it, and compare a resumed run's file with
// an uninterrupted run's (same steps in order, every value within 1e-6).
import {expect} from 'chai'
import {readFileSync} from 'node:fs'

export type LossLine = {step: number; lr: number; loss: number} & Record<string, number>

export function readLosses(path: string): LossLine[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(l => l.trim())
    .map(l => JSON.parse(l) as LossLine)
}

/** Same lines, same fields, values within `tol`; returns the largest difference. */
export function expectSameLosses(resumedPath: string, uninterruptedPath: string, tol = 1e-6): number {
  const got = readLosses(resumedPath)
  const want = readLosses(uninterruptedPath)
  expect(
    got.map(l => l.step),
    `${resumedPath}: steps`
  ).to.deep.equal(want.map(l => l.step))
  let worst = 0
  got.forEach((line, k) => {
    expect(Object.keys(line).sort(), `${resumedPath} step ${line.step}: fields`).to.deep.equal(
      Object.keys(want[k]).sort()
    )
    for (const [key, value] of Object.entries(want[k])) {
      const d = Math.abs(line[key] - value)
      expect(d, `${resumedPath} step ${line.step}: ${key} ${line[key]} vs ${value}`).to.be.at.most(tol)
      worst = Math.max(worst, d)
    }
  })
  return worst
}
