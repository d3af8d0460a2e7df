// <stage>/losses.jsonl (issue 21): one JSON object per optimizer step,
// {"step": <1-based>, "lr": <rate used>, "loss": <total>, "<term>": <value>, ...}, appended as
// training goes so report.html and a Python reader (pandas.read_json(path, lines=True)) see the
// run so far. On resume the lines after the checkpoint's step are dropped, so the file always
// describes the run the weights come from (docs/DESIGN.md "Reliability contract").
import {promises as fs} from 'node:fs'
import {describeFsError} from '../errors.js'
import {writeFileAtomic} from '../io/atomic.js'

export type LossTerms = Record<string, number | null | undefined>

export class LossLog {
  private constructor(readonly path: string) {}

  /** The log of a run that continues after `resumedStep` optimizer steps (0: a fresh start empties the file). */
  static async open(path: string, resumedStep: number): Promise<LossLog> {
    let kept = ''
    if (resumedStep > 0) {
      let text = ''
      try {
        text = await fs.readFile(path, 'utf8')
      } catch {
        /* no log yet: it starts at the resumed step */
      }
      for (const line of text.split('\n')) {
        const step = stepOf(line)
        if (step !== null && step <= resumedStep) kept += line + '\n'
      }
    }
    await writeFileAtomic(path, kept)
    return new LossLog(path)
  }

  /** Appends step `step`'s line; terms that are null or undefined (not computed this step) are left out. */
  async append(step: number, lr: number, loss: number, terms: LossTerms = {}): Promise<void> {
    const line: Record<string, number> = {step, lr, loss}
    for (const [name, value] of Object.entries(terms)) if (typeof value === 'number') line[name] = value
    // No fsync per step: a kill -9 keeps what was written (the page cache survives the process);
    // a torn last line after a power loss is dropped by the next resume.
    try {
      await fs.appendFile(this.path, JSON.stringify(line) + '\n')
    } catch (err) {
      throw describeFsError(err, this.path) ?? err
    }
  }
}

/** The step of one line, or null for a torn or foreign line. */
function stepOf(line: string): number | null {
  if (!line.trim()) return null
  try {
    const step = (JSON.parse(line) as {step?: unknown}).step
    return typeof step === 'number' && Number.isInteger(step) ? step : null
  } catch {
    return null
  }
}
