// The boundary check every reader of a user's file goes through (docs/DEVELOPING.md "Reading
// user files"): parse the bytes, then validate the shape and types with a zod schema here, so a
// file that is valid JSON/YAML but not what we expect becomes one UserError naming the file,
// the line (for JSON Lines) and the key, never a TypeError deep inside a stage.
import {z} from 'zod'
import {UserError} from '../errors.js'

/** "file:line" for JSON Lines, "file" otherwise. */
export interface Where {
  file: string
  line?: number
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length ? issue.path.map(String).join('.') : '(top level)'
  if (issue.code === 'invalid_type') {
    const expected =
      issue.expected === 'object' || issue.expected === 'record'
        ? 'an object'
        : issue.expected === 'array'
          ? 'a list'
          : `a ${issue.expected}`
    return `${key}: expected ${expected}`
  }
  return `${key}: ${issue.message}`
}

/** Validates `value` against `schema`; on mismatch throws one line: `file[:line]: what: key: problem`. */
export function validateUserData<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: Where,
  what: string
): z.output<S> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const at = where.line !== undefined ? `${where.file}:${where.line}` : where.file
  throw new UserError(`${at}: ${what}: ${describeIssue(result.error.issues[0])}`)
}

/** JSON.parse with the file (and line) named on a syntax error. */
export function parseUserJson(text: string, where: Where, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    const at = where.line !== undefined ? `${where.file}:${where.line}` : where.file
    throw new UserError(`${at}: ${what} is not valid JSON (${(err as Error).message.split('\n')[0]})`)
  }
}

/** A plain JSON object (not null, not a list): most of our headers and records. */
export const jsonObject = z.record(z.string(), z.unknown())
export {z}
