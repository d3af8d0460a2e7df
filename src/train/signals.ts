// Cooperative stopping (Reliability contract): SIGINT, SIGTERM and SIGUSR1 (Slurm's
// pre-timeout warning) ask the training loop to finish the current step, checkpoint and exit.
// A second SIGINT exits at once; checkpoints are renamed into place atomically, so the last
// complete one is never damaged.
import {ExitCode} from '../errors.js'

export interface StopSignals {
  /** the first signal received, or null */
  requested(): string | null
  dispose(): void
}

export function installStopHandlers(): StopSignals {
  let received: string | null = null
  const handlers: Array<[NodeJS.Signals, () => void]> = []
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGUSR1'] as NodeJS.Signals[]) {
    const handler = () => {
      if (received === 'SIGINT' && sig === 'SIGINT') {
        process.stderr.write('medgen: second SIGINT, exiting now (last complete checkpoint kept)\n')
        process.exit(ExitCode.interrupted)
      }
      if (!received) {
        received = sig
        process.stderr.write(`medgen: ${sig} received, finishing the current step and writing a checkpoint\n`)
      }
    }
    process.on(sig, handler)
    handlers.push([sig, handler])
  }
  return {
    requested: () => received,
    dispose: () => {
      for (const [sig, h] of handlers) process.off(sig, h)
    }
  }
}
