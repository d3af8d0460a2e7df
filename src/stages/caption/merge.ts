// `medgen merge captions`: joins the parts written by `medgen caption --shard i/n` (Slurm
// arrays, docs/DESIGN.md "Scale") into captions/captions.jsonl, failures.jsonl and metadata.csv,
// after checking that every part 0..n-1 is present and complete, that all parts were made
// with the same settings, and that no image appears in two parts.
import {promises as fs} from 'node:fs'
import {UserError} from '../../errors.js'
import {writeFileAtomic} from '../../io/atomic.js'
import {readManifest, writeManifest, hashOutputs, medgenVersion, type StageManifest} from '../manifest.js'
import {parsePartName, shardOfId} from '../../util/shard.js'
import {metadataCsv, readFailureLines, readStoredCaptions} from './store.js'
import type {CaptionRecord, FailureRecord} from '../../caption/records.js'
import {runLayout, stageDirs, stageManifest} from '../../run/layout.js'

export interface MergeSummary {
  parts: number
  captions: number
  failures: number
}

export async function mergeCaptionParts(runDir: string): Promise<MergeSummary> {
  const layout = runLayout(runDir).captions
  const dir = layout.parts.dir
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch {
    throw new UserError(`${dir}: no caption parts; run \`medgen caption --shard i/n\` for every i first`)
  }
  const parts = names
    .filter(n => n.endsWith('.jsonl') && !n.endsWith('.failures.jsonl'))
    .map(n => ({file: n, shard: parsePartName(n.slice(0, -'.jsonl'.length))}))
    .filter((p): p is {file: string; shard: {index: number; count: number}} => p.shard !== null)
  if (parts.length === 0)
    throw new UserError(`${dir}: no part-<i>-of-<n>.jsonl files; run \`medgen caption --shard i/n\` first`)
  const counts = [...new Set(parts.map(p => p.shard.count))]
  if (counts.length > 1)
    throw new UserError(
      `${dir}: parts from different shard counts (${counts
        .sort()
        .map(c => `of-${c}`)
        .join(', ')}); remove the stale ones`
    )
  const count = counts[0]
  const missing: number[] = []
  for (let i = 0; i < count; i++) if (!parts.some(p => p.shard.index === i)) missing.push(i)
  if (missing.length > 0)
    throw new UserError(
      `${dir}: missing part${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count}; run \`medgen caption --shard ${missing[0]}/${count}\``
    )

  const manifests: StageManifest[] = []
  for (let i = 0; i < count; i++) {
    const m = await readManifest(runDir, layout.parts.stageDir({index: i, count}))
    if (!m || m.status !== 'complete') {
      throw new UserError(
        `part ${i} of ${count} is not complete (${stageManifest(runDir, layout.parts.stageDir({index: i, count}))} ${m ? 'says running' : 'missing'}); rerun \`medgen caption --shard ${i}/${count}\``
      )
    }
    manifests.push(m)
  }
  const hashes = new Set(manifests.map(m => m.configHash))
  if (hashes.size > 1)
    throw new UserError(
      `${dir}: the parts were captioned with different settings (config hashes differ); rerun the odd ones with the same config`
    )

  const owner = new Map<string, number>()
  const captions: CaptionRecord[] = []
  const failures: FailureRecord[] = []
  for (let i = 0; i < count; i++) {
    const part = {index: i, count}
    const rows = [
      ...(await readStoredCaptions(layout.parts.jsonl(part))).map(r => ({
        id: r.id,
        row: r as CaptionRecord | FailureRecord,
        failed: false
      })),
      ...(await readFailureLines(layout.parts.failures(part))).map(r => ({
        id: r.id,
        row: r as CaptionRecord | FailureRecord,
        failed: true
      }))
    ]
    for (const {id, row, failed} of rows) {
      const before = owner.get(id)
      if (before !== undefined) {
        throw new UserError(
          `${dir}: image ${id} is in both part ${before} and part ${i}; the parts overlap (were they made from different datasets?)`
        )
      }
      if (shardOfId(id, count) !== i)
        throw new UserError(
          `${layout.parts.jsonl(part)}: image ${id} belongs to part ${shardOfId(id, count)}, not ${i}`
        )
      owner.set(id, i)
      if (failed) failures.push(row as FailureRecord)
      else captions.push(row as CaptionRecord)
    }
  }
  const byId = (a: {id: string}, b: {id: string}) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  captions.sort(byId)
  failures.sort(byId)
  const files = {captions: layout.jsonl, failures: layout.failures, metadata: layout.metadataCsv}
  await writeFileAtomic(files.captions, captions.map(r => JSON.stringify(r) + '\n').join(''))
  await writeFileAtomic(files.failures, failures.map(r => JSON.stringify(r) + '\n').join(''))
  await writeFileAtomic(files.metadata, metadataCsv(captions))

  // The merged result gets the manifest an unsharded run would have written, so later stages
  // (and `medgen run`) see one complete caption stage.
  const first = manifests[0]
  const now = new Date().toISOString()
  await writeManifest(runDir, {
    medgen: medgenVersion,
    stage: stageDirs.caption,
    status: 'complete',
    backend: first.backend,
    seed: first.seed,
    config: first.config,
    configHash: first.configHash,
    inputs: first.inputs,
    outputs: await hashOutputs(runDir, [files.captions, files.failures, files.metadata]),
    startedAt: manifests.map(m => m.startedAt).sort()[0],
    finishedAt: now,
    seconds: manifests.reduce((s, m) => s + (m.seconds ?? 0), 0),
    notes: {...first.notes, mergedFrom: count, captioned: captions.length, failed: failures.length, shard: undefined}
  })
  return {parts: count, captions: captions.length, failures: failures.length}
}
