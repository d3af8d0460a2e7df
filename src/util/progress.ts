// Progress for long work: a cli-progress bar with rate and ETA on a TTY, and plain
// periodic lines when stderr is not a TTY (Slurm logs), so logs stay readable.
import cliProgress from 'cli-progress'

export interface Progress {
  tick(n?: number, info?: Record<string, string | number>): void
  stop(): void
}

export function progress(label: string, total: number, opts: {everySeconds?: number} = {}): Progress {
  const quiet = !!process.env.MEDGEN_QUIET
  if (quiet) return {tick() {}, stop() {}}
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {eta_formatted} {info}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false
      },
      cliProgress.Presets.shades_classic
    )
    const start = Date.now()
    let value = 0
    bar.start(total, 0, {rate: '0', info: ''})
    return {
      tick(n = 1, info) {
        value += n
        const rate = value / Math.max(1e-3, (Date.now() - start) / 1000)
        bar.update(value, {
          rate: rate.toFixed(2),
          info: info
            ? Object.entries(info)
                .map(([k, v]) => `${k}=${v}`)
                .join(' ')
            : ''
        })
      },
      stop() {
        bar.stop()
      }
    }
  }
  const every = (opts.everySeconds ?? 30) * 1000
  const start = Date.now()
  let last = start
  let value = 0
  return {
    tick(n = 1, info) {
      value += n
      const now = Date.now()
      if (now - last >= every || value === total) {
        last = now
        const rate = value / Math.max(1e-3, (now - start) / 1000)
        const eta = rate > 0 ? Math.round((total - value) / rate) : 0
        const extra = info
          ? ' ' +
            Object.entries(info)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')
          : ''
        process.stderr.write(`medgen: ${label} ${value}/${total} (${rate.toFixed(2)}/s, ETA ${eta}s)${extra}\n`)
      }
    },
    stop() {}
  }
}
