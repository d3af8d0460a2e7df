// Errors a user can fix get a one-line message and a documented exit code; everything
// else is a bug and keeps its stack (printed only with MEDGEN_DEBUG=1).

/** Exit codes shared by every command (docs/DESIGN.md "Reliability contract"). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2, // bad config, bad flags, bad input files, missing artifacts
  incomplete: 3, // results written, but a requested item failed (caption) or a requested metric was skipped (eval)
  nonFinite: 4, // a training loss became NaN/Inf; last good checkpoint kept
  requeue: 75, // SIGTERM/SIGUSR1: checkpoint written, safe to requeue (EX_TEMPFAIL)
  interrupted: 130 // SIGINT: checkpoint written
} as const

export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.usage
  ) {
    super(message)
    this.name = 'UserError'
  }
}

/** Raised by training loops that stopped on a signal after writing a checkpoint. */
export class StoppedBySignal extends UserError {
  constructor(
    readonly signal: string,
    step: number,
    checkpoint: string | null
  ) {
    super(
      `stopped by ${signal} after step ${step}; checkpoint ${checkpoint ?? '(none)'}; resume with --resume`,
      signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.requeue
    )
  }
}

export class NonFiniteLoss extends UserError {
  constructor(step: number, value: number, lastGood: string | null) {
    super(
      `loss became ${value} at step ${step}; last good checkpoint ${lastGood ?? '(none yet)'} kept; ` +
        'lower the learning rate and resume with --resume',
      ExitCode.nonFinite
    )
  }
}

/** Node's errno errors carry a code; turn the ones users cause into one-line messages. */
export function describeFsError(err: unknown, path: string): UserError | null {
  const code = (err as NodeJS.ErrnoException)?.code
  switch (code) {
    case 'ENOENT':
      return new UserError(`${path}: no such file or directory`)
    case 'EACCES':
    case 'EPERM':
      return new UserError(`${path}: permission denied`)
    case 'ENOSPC':
      return new UserError(`${path}: no space left on device (nothing already written was changed)`, 1)
    case 'EISDIR':
      return new UserError(`${path}: is a directory, expected a file`)
    case 'ENOTDIR':
      return new UserError(`${path}: not a directory`)
    case 'EROFS':
      return new UserError(`${path}: read-only file system`)
    case 'EEXIST':
      return new UserError(`${path}: already exists and is not a directory`)
    case 'ENAMETOOLONG':
      return new UserError(`${path}: file name too long`)
    case 'ELOOP':
      return new UserError(`${path}: too many levels of symbolic links`)
    case 'EMFILE':
    case 'ENFILE':
      return new UserError(`${path}: too many open files (raise ulimit -n)`, 1)
    case 'EFBIG':
      return new UserError(`${path}: file too large for this file system`, 1)
    case 'EIO':
      return new UserError(`${path}: input/output error from the device`, 1)
    default:
      return null
  }
}

/** Node's own argument checks that a user's data can trip (a NUL byte in a path from a config or
 *  a file name, a file too large to read at once); the others (ERR_INVALID_ARG_TYPE, assertions) are
 *  our bugs and stay internal errors. */
const USER_CAUSED_NODE_CODES = new Set([
  'ERR_INVALID_ARG_VALUE',
  'ERR_FS_FILE_TOO_LARGE',
  'ERR_STRING_TOO_LONG',
  'ERR_BUFFER_TOO_LARGE',
  'ERR_INVALID_URL',
  'ERR_ENCODING_INVALID_ENCODED_DATA',
  'ERR_OUT_OF_RANGE',
  'ERR_FS_EISDIR',
  'ERR_FS_CP_EINVAL',
  'ERR_FS_CP_DIR_TO_NON_DIR',
  'ERR_FS_CP_NON_DIR_TO_DIR',
  'ERR_ZLIB_INITIALIZATION_FAILED'
])

/**
 * The one mapping from node's errors to user errors, used by the top-level handler: errno errors
 * (ENOENT, EEXIST, ENOTDIR, ...) with the path they name, errno errors without a path, and the
 * ERR_* codes above. Returns null for anything else (a bug: stack trace with MEDGEN_DEBUG=1).
 */
export function describeNodeError(err: unknown): UserError | null {
  if (err instanceof UserError) return err
  const e = err as NodeJS.ErrnoException | undefined
  if (!e || typeof e !== 'object' || typeof e.code !== 'string') return null
  const firstLine = String(e.message ?? '').split('\n')[0]
  if (e.code.startsWith('ERR_')) {
    if (!USER_CAUSED_NODE_CODES.has(e.code)) return null
    if (/null bytes/.test(firstLine)) {
      const received = /Received (.*)$/.exec(firstLine)?.[1] ?? ''
      return new UserError(`invalid path ${printable(received)}: contains a NUL byte`)
    }
    return new UserError(`${printable(firstLine)} (${e.code})`)
  }
  if (typeof e.errno !== 'number' && typeof e.syscall !== 'string') return null
  if (e.path)
    return (
      describeFsError(e, printable(e.path)) ??
      new UserError(`${printable(e.path)}: ${e.code} (${e.syscall ?? 'system call'} failed)`)
    )
  return new UserError(`${printable(firstLine)}`)
}

/** Control characters (a NUL byte, an escape sequence) in a name are shown escaped, never written raw. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, c => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}
