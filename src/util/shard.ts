// Sharding for Slurm job arrays (docs/DESIGN.md "Scale"): `--shard i/n` or `--shard auto` picks a
// deterministic, disjoint slice of the items; the n slices together cover every item once.
// Shard indices are 0-based (i in 0..n-1), like `sbatch --array=0-<n-1>`.
import {createHash} from 'node:crypto'
import {UserError} from '../errors.js'

export interface Shard {
  /** 0-based index of this shard */
  index: number
  /** number of shards */
  count: number
}

/**
 * Parses `i/n` or `auto`. `auto` reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, and
 * subtracts SLURM_ARRAY_TASK_MIN so that `--array=1-4` works as well as `--array=0-3`.
 * Returns null when no sharding was asked for.
 */
export function parseShard(spec: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard | null {
  if (spec === undefined || spec === '' || spec === 'none') return null
  if (spec === 'auto') {
    const id = env.SLURM_ARRAY_TASK_ID
    const count = env.SLURM_ARRAY_TASK_COUNT
    if (id === undefined || count === undefined) {
      throw new UserError(
        '--shard auto: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are not set (not inside a Slurm array job); use --shard i/n'
      )
    }
    const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : Number(env.SLURM_ARRAY_TASK_MIN)
    return checkShard(
      Number(id) - min,
      Number(count),
      `--shard auto (SLURM_ARRAY_TASK_ID=${id}, SLURM_ARRAY_TASK_MIN=${min}, SLURM_ARRAY_TASK_COUNT=${count})`
    )
  }
  const match = /^(\d+)\/(\d+)$/.exec(spec.trim())
  if (!match) throw new UserError(`--shard ${spec}: expected i/n (0-based, e.g. 0/4) or auto`)
  return checkShard(Number(match[1]), Number(match[2]), `--shard ${spec}`)
}

function checkShard(index: number, count: number, source: string): Shard {
  if (!Number.isInteger(count) || count < 1)
    throw new UserError(`${source}: the shard count must be a positive integer`)
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new UserError(`${source}: shard index must be in 0..${count - 1}`)
  return {index, count}
}

/**
 * The shard an item belongs to, from a hash of its id: stable when the dataset is listed in
 * another order or on another machine, which contiguous slices of a listing would not be.
 */
export function shardOfId(id: string, count: number): number {
  const digest = createHash('sha256').update(id).digest()
  return digest.readUInt32BE(0) % count
}

export function inShard<T extends {id: string}>(items: T[], shard: Shard | null): T[] {
  if (!shard) return items
  return items.filter(item => shardOfId(item.id, shard.count) === shard.index)
}

/** File stem of a shard's part, e.g. `part-2-of-8`. */
export function partName(shard: Shard): string {
  return `part-${shard.index}-of-${shard.count}`
}

export function parsePartName(name: string): Shard | null {
  const match = /^part-(\d+)-of-(\d+)$/.exec(name)
  return match ? {index: Number(match[1]), count: Number(match[2])} : null
}
