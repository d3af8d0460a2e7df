// The step loop every training stage shares: progress, periodic checkpoints, clean stops on
// signals, and a hard stop on a non-finite loss that keeps the last good checkpoint.
import {NonFiniteLoss, StoppedBySignal} from '../errors.js'
import {progress} from '../util/progress.js'
import {installStopHandlers} from './signals.js'

export interface TrainLoopOptions {
  label: string
  totalSteps: number
  /** steps already done (from a resumed checkpoint) */
  startStep: number
  checkpointEvery: number
  /** runs optimizer step number `i` (0-based) and returns its loss */
  step: (i: number) => Promise<number> | number
  /** writes a checkpoint after `stepsDone` steps and returns its path */
  checkpoint: (stepsDone: number) => Promise<string>
  /** path of the checkpoint the run resumed from, if any */
  lastCheckpoint?: string | null
  /** called after each step, e.g. to record curves */
  onStep?: (i: number, loss: number) => void
  /** test hook: stop after this many steps as if killed (no checkpoint) */
  crashAfter?: number
}

export async function trainLoop(opts: TrainLoopOptions): Promise<{lastCheckpoint: string | null; stepsDone: number}> {
  const signals = installStopHandlers()
  const bar = progress(opts.label, opts.totalSteps)
  bar.tick(opts.startStep)
  let lastCheckpoint = opts.lastCheckpoint ?? null
  let stepsDone = opts.startStep
  const crashAt =
    opts.crashAfter ?? (process.env.MEDGEN_CRASH_AFTER_STEP ? Number(process.env.MEDGEN_CRASH_AFTER_STEP) : undefined)
  try {
    for (let i = opts.startStep; i < opts.totalSteps; i++) {
      const loss = await opts.step(i)
      if (!Number.isFinite(loss)) throw new NonFiniteLoss(i + 1, loss, lastCheckpoint)
      stepsDone = i + 1
      opts.onStep?.(i, loss)
      bar.tick(1, {loss: loss.toPrecision(4)})
      if (crashAt !== undefined && stepsDone >= crashAt) {
        // Fault injection for the reliability suite: die like kill -9 would, mid-run.
        process.kill(process.pid, 'SIGKILL')
      }
      // Yield to the event loop so a pending SIGTERM/SIGUSR1/SIGINT handler runs now: a step whose
      // awaits are all resolved promises never does, and the signal would wait for the next
      // periodic checkpoint (issue 23 item 8).
      await new Promise<void>(resolve => setImmediate(resolve))
      const sig = signals.requested()
      if (stepsDone % opts.checkpointEvery === 0 || stepsDone === opts.totalSteps || sig) {
        lastCheckpoint = await opts.checkpoint(stepsDone)
      }
      if (sig) throw new StoppedBySignal(sig, stepsDone, lastCheckpoint)
    }
  } finally {
    bar.stop()
    signals.dispose()
  }
  return {lastCheckpoint, stepsDone}
}
