#!/usr/bin/env -S node --import tsx
// Development entry point: runs a command straight from its TypeScript source
// through tsx, no build needed. The oclif lookup reads the manifest and the compiled
// files, which lag behind the sources while developing; root help still goes through oclif.
import {execute, flush, handle} from '@oclif/core'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const [id, ...argv] = process.argv.slice(2)
const source = id && /^[a-z-]+$/.test(id) ? join(root, 'src', 'commands', `${id}.ts`) : null
if (source && existsSync(source)) {
  const command = (await import(pathToFileURL(source).href)).default
  command.id = id
  await command.run(argv, root).then(
    () => flush(),
    err => handle(err)
  )
} else {
  await execute({development: true, dir: import.meta.url})
}
