// How a test expects a refusal from a reader or loader called in process: a UserError (so the CLI
// prints it as one `medgen:` line and exits with its code, never a stack trace), on one line,
// saying what the caller names. One helper for every such test, so they all hold the same bar.
import {expect} from 'chai'
import {UserError} from '../../src/errors.js'

/** Checks `err` is a one-line UserError with exit code 2 containing (string) or matching (RegExp) each of `expected`. */
function checkUserError(err: unknown, expected: Array<string | RegExp>): string {
  expect(err, String((err as Error)?.stack ?? err)).to.be.instanceOf(UserError)
  expect((err as UserError).exitCode).to.equal(2)
  const message = (err as Error).message
  expect(message).to.not.include('\n')
  for (const e of expected) {
    if (typeof e === 'string') expect(message).to.include(e)
    else expect(message).to.match(e)
  }
  return message
}

/** Awaits `p` (or calls it) and expects a refusal as checkUserError describes; returns the message. */
export async function expectUserError(
  p: Promise<unknown> | (() => unknown),
  ...expected: Array<string | RegExp>
): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return checkUserError(err, expected)
  }
  throw new Error('expected a UserError')
}

/** expectUserError for a synchronous call. */
export function expectUserErrorSync(fn: () => unknown, ...expected: Array<string | RegExp>): string {
  try {
    fn()
  } catch (err) {
    return checkUserError(err, expected)
  }
  throw new Error('expected a UserError')
}
