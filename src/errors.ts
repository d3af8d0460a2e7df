// Errors a user can fix get a one-line message and a documented exit code; everything
// else is a bug and keeps its stack (printed only with MEDGEN_DEBUG=1).

/** Exit codes shared by every command (docs/DESIGN.md "Reliability contract"). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2, // bad config, bad flags, bad input files, missing artifacts
  nonFinite: 4, // a training loss became NaN/Inf; last good checkpoint kept
  requeue: 75, // SIGTERM/SIGUSR1: checkpoint written, safe to requeue (EX_TEMPFAIL)
  interrupted: 130, // SIGINT: checkpoint written
} as const

export class UserError extends Error {
  constructor(message: string, readonly exitCode: number = ExitCode.usage) {
    super(message)
    this.name = 'UserError'
  }
}

/** Raised by training loops that stopped on a signal after writing a checkpoint. */
export class StoppedBySignal extends UserError {
  constructor(readonly signal: string, step: number, checkpoint: string | null) {
    super(`stopped by ${signal} after step ${step}; checkpoint ${checkpoint ?? "(none)"}; resume with --resume`,
      signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.requeue)
  }
}

export class NonFiniteLoss extends UserError {
  constructor(step: number, value: number, lastGood: string | null) {
    super(`loss became ${value} at step ${step}; last good checkpoint ${lastGood ?? '(none yet)'} kept; ` +
      'lower the learning rate and resume with --resume', ExitCode.nonFinite)
  }
}

/** Node's errno errors carry a code; turn the ones users cause into one-line messages. */
export function describeFsError(err: unknown, path: string): UserError | null {
  const code = (err as NodeJS.ErrnoException)?.code
  switch (code) {
    case 'ENOENT': return new UserError(`${path}: no such file or directory`)
    case 'EACCES': case 'EPERM': return new UserError(`${path}: permission denied`)
    case 'ENOSPC': return new UserError(`${path}: no space left on device (nothing already written was changed)`, 1)
    case 'EISDIR': return new UserError(`${path}: is a directory, expected a file`)
    case 'ENOTDIR': return new UserError(`${path}: not a directory`)
    case 'EROFS': return new UserError(`${path}: read-only file system`)
    default: return null
  }
}
