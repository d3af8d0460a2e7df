// `medgen merge samples`: joins the parts written by `generate --shard i/n` (Slurm arrays,
// docs/DESIGN.md "Scale") into samples/manifest.jsonl after checking that every part 0..n-1 is
// present, that all parts agree on n, that no id appears in two parts, and that every PNG a
// part names exists. Then summary.json and the contact sheets are rebuilt from the whole set.
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {UserError} from '../../errors.js'
import {pathExists} from '../../io/atomic.js'
import {compactManifest, readRecords, writeSummaryAndSheets, type SampleRecord} from './records.js'
import {runLayout} from '../../run/layout.js'

export interface MergeSamplesResult {
  parts: number
  images: number
  manifest: string
  outputs: string[]
}

export async function mergeSampleShards(runDir: string): Promise<MergeSamplesResult> {
  const dir = runLayout(runDir).samples.parts.dir
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch {
    throw new UserError(`${dir}: no shard parts found; run \`medgen generate --shard i/n\` first`)
  }
  const parts = names.map(name => ({name, m: /^manifest-(\d+)-of-(\d+)\.jsonl$/.exec(name)})).filter(p => p.m)
  if (parts.length === 0)
    throw new UserError(`${dir}: no manifest-<i>-of-<n>.jsonl parts; run \`medgen generate --shard i/n\` first`)
  const counts = new Set(parts.map(p => Number(p.m![2])))
  if (counts.size > 1) {
    throw new UserError(
      `${dir}: parts disagree on the shard count (${[...counts].sort().join(' vs ')}); remove the parts of the old sharding and merge again`
    )
  }
  const count = [...counts][0]
  const present = new Set(parts.map(p => Number(p.m![1])))
  const missing = Array.from({length: count}, (_, i) => i).filter(i => !present.has(i))
  if (missing.length > 0) {
    throw new UserError(
      `${dir}: missing part${missing.length > 1 ? 's' : ''} ${missing.map(i => `${i}/${count}`).join(', ')}; run \`medgen generate --shard ${missing[0]}/${count}\``
    )
  }
  const owner = new Map<string, string>()
  const merged: SampleRecord[] = []
  for (const part of parts.sort((a, b) => Number(a.m![1]) - Number(b.m![1]))) {
    for (const record of await readRecords(join(dir, part.name))) {
      const other = owner.get(record.id)
      if (other)
        throw new UserError(
          `${dir}: image ${record.id} appears in both ${other} and ${part.name}; the parts overlap (different requests or seeds per shard?)`
        )
      owner.set(record.id, part.name)
      if (!(await pathExists(join(runDir, record.file)))) {
        throw new UserError(
          `${join(runDir, record.file)}: listed in ${part.name} but missing; rerun \`medgen generate --shard ${part.m![1]}/${count}\``
        )
      }
      merged.push(record)
    }
  }
  const manifest = runLayout(runDir).samples.manifest
  // Images an unsharded run wrote earlier stay; a part's line supersedes one with the same id.
  const earlier = (await readRecords(manifest)).filter(r => !owner.has(r.id))
  await compactManifest(manifest, [...earlier, ...merged])
  const outputs = [manifest, ...(await writeSummaryAndSheets(runDir, [...earlier, ...merged], {mergedParts: count}))]
  return {parts: count, images: earlier.length + merged.length, manifest, outputs}
}
