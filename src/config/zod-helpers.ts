// Helpers shared by the per-stage config schemas: every key carries a default and a
// one-line doc (`.describe`), unknown keys are rejected (strict) so typos surface.
import {z} from 'zod'

/** A strict config section whose missing keys take their defaults. */
export function section<T extends z.ZodRawShape>(shape: T, doc: string) {
  // prefault (not default): zod 4 returns a default as-is, prefault parses it, so the
  // defaults of the nested keys apply when the whole section is absent.
  return z
    .object(shape)
    .strict()
    .prefault({} as any)
    .describe(doc)
}

export {z}
