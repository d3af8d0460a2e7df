// Logging to stderr (stdout stays clean for machine-readable output). MEDGEN_QUIET=1 silences info.
export const log = {
  info(msg: string): void {
    if (!process.env.MEDGEN_QUIET) process.stderr.write(`medgen: ${msg}\n`)
  },
  warn(msg: string): void {
    process.stderr.write(`medgen: warning: ${msg}\n`)
  }
}
