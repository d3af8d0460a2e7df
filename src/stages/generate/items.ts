// What to generate: the list of images a `generate` call asks for (issue 8 item 3), each with
// its id, class, prompt and own seed. Inputs combine freely: free-text prompts (--prompt,
// --prompts FILE), the captions of a split (--from-captions, the authors' protocol, docs/REFERENCE.md
// §6), N per class with prompts drawn from that class's captions (--per-class), and every
// anatomy x style combination of the caption vocabulary (--grid). Everything a user can get
// wrong is checked here, before any model loads.
import {promises as fs} from 'node:fs'
import {createHash} from 'node:crypto'
import {UserError, describeFsError} from '../../errors.js'
import {readCaptionLines} from '../../caption/records.js'
import {checkFileName} from '../../io/paths.js'
import {Rng, deriveSeed} from '../../util/rng.js'
import {log} from '../../util/log.js'
import {renderCaption} from '../../caption/vocab.js'
import {
  attributeGroups,
  classRules,
  datasetKinds,
  NONE,
  type Attributes,
  type DatasetKind
} from '../../data/attributes.js'
import {runLayout} from '../../run/layout.js'

export type ItemSource = 'prompt' | 'captions' | 'per-class' | 'grid' | 'swap' | 'control-grid'

export interface SampleItem {
  id: string
  class: string
  prompt: string
  seed: number
  source: ItemSource
  /** vocabulary attributes the prompt was rendered from (grid, and captions that have them) */
  attributes?: Attributes
}

export interface PromptEntry {
  prompt: string
  class?: string
}

/** The request as the command gives it (flags), before files are read. */
export interface GenerateRequest {
  prompts?: string[]
  promptsFile?: string
  fromCaptions?: string
  perClass?: number
  grid?: boolean
  /** per class: N base prompts, each with a style-swap and an anatomy-swap twin on the same seed */
  swapPairs?: number
  /** the control figure: one seed and prompt, rows vary size and shape, columns vary colour */
  controlGrid?: boolean
  /** restricts --from-captions/--per-class/--grid to these classes; labels free prompts */
  classes?: string[]
  /** images per free-text prompt (--num-images), each with its own seed */
  imagesPerPrompt?: number
}

/** The request with the prompt file read: everything that defines the result, hashable. */
export interface ResolvedRequest {
  prompts: PromptEntry[]
  fromCaptions?: string
  perClass?: number
  grid: boolean
  swapPairs?: number
  controlGrid?: boolean
  classes: string[]
  /** absent when 1, so that requests hashed before the flag existed keep their hash */
  imagesPerPrompt?: number
}

/** Free-text prompts with no --class are filed under this folder name. */
export const promptClass = 'prompt'
const maxPromptChars = 2000

interface CaptionRow {
  id: string
  class: string
  split: string
  caption: string
  attributes?: Attributes | null
}

/**
 * --prompts FILE: one prompt per line; blank lines and lines starting with # are skipped; a
 * line starting with { is JSON {"prompt": "...", "class": "..."}.
 */
export async function readPromptFile(path: string): Promise<PromptEntry[]> {
  let raw: Buffer
  try {
    raw = await fs.readFile(path)
  } catch (err) {
    throw describeFsError(err, `--prompts ${path}`) ?? err
  }
  if (raw.includes(0))
    throw new UserError(`--prompts ${path}: not a text file (contains NUL bytes); expected one prompt per line`)
  const entries: PromptEntry[] = []
  const lines = raw.toString('utf8').split(/\r?\n/)
  for (const [i, line] of lines.entries()) {
    const text = line.trim()
    if (!text || text.startsWith('#')) continue
    const where = `--prompts ${path}:${i + 1}`
    let entry: PromptEntry
    if (text.startsWith('{')) {
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        throw new UserError(`${where}: invalid JSON (a line starting with { must be {"prompt": "...", "class": "..."})`)
      }
      const p = parsed as Record<string, unknown>
      if (typeof p.prompt !== 'string' || !p.prompt.trim())
        throw new UserError(`${where}: JSON line has no "prompt" string`)
      if (p.class !== undefined && typeof p.class !== 'string')
        throw new UserError(`${where}: "class" must be a string`)
      entry = {prompt: p.prompt.trim(), class: p.class as string | undefined}
    } else entry = {prompt: text}
    if (entry.prompt.length > maxPromptChars)
      throw new UserError(`${where}: prompt is ${entry.prompt.length} characters; the limit is ${maxPromptChars}`)
    entries.push(entry)
  }
  if (entries.length === 0)
    throw new UserError(
      `--prompts ${path}: no prompts found (one per line; blank lines and lines starting with # are ignored)`
    )
  return entries
}

/** What `generate` makes when the command line asks for nothing: the config's request, as `medgen run` makes it. */
export interface DefaultRequest {
  perClass: number
  swapPairs?: number
  controlGrid?: boolean
}

export async function resolveRequest(request: GenerateRequest, defaults: DefaultRequest): Promise<ResolvedRequest> {
  const prompts: PromptEntry[] = []
  for (const p of request.prompts ?? []) {
    if (!p.trim()) throw new UserError('--prompt: empty prompt')
    if (p.length > maxPromptChars)
      throw new UserError(`--prompt: prompt is ${p.length} characters; the limit is ${maxPromptChars}`)
    prompts.push({prompt: p.trim()})
  }
  if (request.promptsFile) prompts.push(...(await readPromptFile(request.promptsFile)))
  if (request.perClass !== undefined && (!Number.isInteger(request.perClass) || request.perClass < 1)) {
    throw new UserError(`--per-class ${request.perClass}: must be a positive integer`)
  }
  if (request.swapPairs !== undefined && (!Number.isInteger(request.swapPairs) || request.swapPairs < 0)) {
    throw new UserError(`--swap-pairs ${request.swapPairs}: must be an integer >= 0`)
  }
  const perPrompt = request.imagesPerPrompt ?? 1
  if (!Number.isInteger(perPrompt) || perPrompt < 1)
    throw new UserError(`--num-images ${perPrompt}: must be a positive integer`)
  const nothingAsked =
    prompts.length === 0 &&
    !request.fromCaptions &&
    request.perClass === undefined &&
    !request.grid &&
    !request.swapPairs &&
    !request.controlGrid
  return {
    prompts,
    fromCaptions: request.fromCaptions,
    perClass: nothingAsked ? defaults.perClass : request.perClass,
    grid: !!request.grid,
    ...(nothingAsked && defaults.swapPairs
      ? {swapPairs: defaults.swapPairs}
      : request.swapPairs
        ? {swapPairs: request.swapPairs}
        : {}),
    ...((nothingAsked && defaults.controlGrid) || request.controlGrid ? {controlGrid: true} : {}),
    classes: [...new Set(request.classes ?? [])],
    ...(perPrompt > 1 ? {imagesPerPrompt: perPrompt} : {})
  }
}

/** True when the items need captions/captions.jsonl (class lists, caption prompts). */
export function needsCaptions(r: ResolvedRequest): boolean {
  return (
    !!r.fromCaptions ||
    r.perClass !== undefined ||
    r.grid ||
    !!r.swapPairs ||
    !!r.controlGrid ||
    r.classes.length > 0 ||
    r.prompts.some(p => p.class)
  )
}

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8)

/** Folder-safe id part. */
function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '') || 'x'
}

/** The dataset kind whose class rules know most of these classes (config data.kind wins). */
export function inferKind(configured: string, classes: string[]): DatasetKind {
  if (configured !== 'auto') return configured as DatasetKind
  let best: DatasetKind = 'dermoscopy'
  let bestHits = 0
  for (const kind of datasetKinds) {
    const hits = classes.filter(c => c in classRules[kind]).length
    if (hits > bestHits) {
      best = kind
      bestHits = hits
    }
  }
  return best
}

/** Every combination of the anatomy and style vocabularies; "none" anatomy only as a whole (no lesion). */
export function attributeGrid(kind: DatasetKind): Attributes[] {
  const product = (group: Record<string, readonly string[]>): Attributes[] =>
    Object.entries(group).reduce<Attributes[]>(
      (acc, [name, values]) => acc.flatMap(a => values.map(v => ({...a, [name]: v}))),
      [{}]
    )
  const anatomy = product(attributeGroups[kind].anatomy).filter(a => {
    const nones = Object.values(a).filter(v => v === NONE).length
    return nones === 0 || nones === Object.keys(a).length
  })
  const style = product(attributeGroups[kind].style)
  return anatomy.flatMap(a => style.map(s => ({...a, ...s})))
}

export interface ItemContext {
  runDir: string
  runSeed: number
  dataKind: string
}

async function readCaptions(runDir: string): Promise<CaptionRow[]> {
  const path = runLayout(runDir).captions.jsonl
  const rows = (await readCaptionLines(path)).map(r => ({
    ...r,
    class: r.class ?? '',
    split: r.split ?? 'train'
  })) as CaptionRow[]
  if (rows.length === 0) throw new UserError(`${path}: missing or empty; run \`medgen caption\` first`)
  return rows
}

function checkClasses(wanted: string[], known: string[], source: string): void {
  for (const c of wanted) {
    if (!known.includes(c))
      throw new UserError(`--class ${c}: unknown class; the classes in ${source} are ${known.join(', ')}`)
  }
}

/** Builds the full, ordered item list for a request. Ids are unique; seeds derive from run seed + id. */
export async function buildItems(r: ResolvedRequest, ctx: ItemContext): Promise<SampleItem[]> {
  const items: SampleItem[] = []
  const seedOf = (id: string): number => deriveSeed(ctx.runSeed, id)
  const captions = needsCaptions(r) ? await readCaptions(ctx.runDir) : []
  const known = [...new Set(captions.map(c => c.class))].sort()
  const source = runLayout(ctx.runDir).captions.jsonl
  checkClasses(r.classes, known, source)
  for (const p of r.prompts) if (p.class) checkClasses([p.class], known, source)
  const classes = r.classes.length > 0 ? r.classes : known

  for (const [k, p] of r.prompts.entries()) {
    const cls = p.class ?? (r.classes.length === 1 ? r.classes[0] : promptClass)
    // The run seed is part of the id: `--seed 7` adds images beside those of other seeds
    // instead of overwriting them; --num-images N gives each image of a prompt its own id.
    for (let j = 0; j < (r.imagesPerPrompt ?? 1); j++) {
      const id = `prompt-${k}-${shortHash(p.prompt)}-s${ctx.runSeed}${r.imagesPerPrompt ? `-${j}` : ''}`
      items.push({id, class: cls, prompt: p.prompt, seed: seedOf(id), source: 'prompt'})
    }
  }
  if (r.fromCaptions) {
    const splits = [...new Set(captions.map(c => c.split))].sort()
    if (r.fromCaptions !== 'all' && !splits.includes(r.fromCaptions)) {
      throw new UserError(
        `--from-captions ${r.fromCaptions}: no captions in that split; ${source} has ${splits.join(', ')} (or use all)`
      )
    }
    for (const c of captions) {
      if (r.fromCaptions !== 'all' && c.split !== r.fromCaptions) continue
      if (!classes.includes(c.class)) continue
      const id = `${slug(c.id)}`
      items.push({
        id,
        class: c.class,
        prompt: c.caption,
        seed: seedOf(id),
        source: 'captions',
        ...(c.attributes ? {attributes: c.attributes} : {})
      })
    }
  }
  if (r.perClass !== undefined) {
    for (const cls of classes) {
      const pool = captions.filter(c => c.class === cls)
      const rng = new Rng(deriveSeed(ctx.runSeed, 'per-class', cls))
      for (let k = 0; k < r.perClass; k++) {
        const c = rng.pick(pool)
        const id = `${slug(cls)}-${String(k).padStart(4, '0')}`
        items.push({
          id,
          class: cls,
          prompt: c.caption,
          seed: seedOf(id),
          source: 'per-class',
          ...(c.attributes ? {attributes: c.attributes} : {})
        })
      }
    }
  }
  if (r.grid) {
    const kind = inferKind(ctx.dataKind, known)
    const grid = attributeGrid(kind)
    if (grid.length * classes.length > 1000) {
      log.info(
        `--grid: ${grid.length} ${kind} attribute combinations x ${classes.length} classes = ${grid.length * classes.length} images` +
          (r.classes.length ? '' : '; --class limits the classes')
      )
    }
    for (const cls of classes) {
      for (const [k, attributes] of grid.entries()) {
        const id = `grid-${slug(cls)}-${String(k).padStart(5, '0')}`
        items.push({
          id,
          class: cls,
          prompt: renderCaption(kind, cls, attributes).caption,
          seed: seedOf(id),
          source: 'grid',
          attributes
        })
      }
    }
  }
  if (r.swapPairs || r.controlGrid) {
    const kind = inferKind(ctx.dataKind, known)
    const withAttributes = captions.filter(c => c.attributes && Object.keys(c.attributes).length > 0) as Array<
      CaptionRow & {attributes: Attributes}
    >
    if (withAttributes.length === 0)
      throw new UserError(
        `${source}: swap pairs and the control grid need captions with attributes (synth data + the measured captioner)`
      )
    if (r.swapPairs) items.push(...swapItems(kind, classes, withAttributes, r.swapPairs, ctx.runSeed))
    if (r.controlGrid) items.push(...controlGridItems(kind, withAttributes, ctx.runSeed))
  }
  const seen = new Set<string>()
  for (const item of items) {
    // samples/<class>/<id>.png: a class from the dataset's metadata or captions is a folder name
    checkFileName(item.class, `${source}: class`)
    checkFileName(`${item.id}.png`, 'sample id')
    if (seen.has(item.id))
      throw new UserError(
        `two requested images share the id ${item.id} (a caption id repeated in captions.jsonl, or one prompt given twice); remove the duplicate`
      )
    seen.add(item.id)
  }
  return items
}

const pickGroup = (a: Attributes, names: string[]): Attributes =>
  Object.fromEntries(names.filter(n => n in a).map(n => [n, a[n]]))

/**
 * Style-swap and anatomy-swap triples (issue 19): a base caption of the class; its twin with the
 * style words of another caption whose colour differs (anatomy words kept); its twin with the
 * anatomy words of another caption whose size differs (style words kept). All three share one seed,
 * so eval's swap metrics compare images that differ only in one half of the prompt. Donor captions
 * come from any class: the class word stays the base's.
 */
export function swapItems(
  kind: DatasetKind,
  classes: string[],
  pool: Array<{class: string; attributes: Attributes}>,
  perClass: number,
  runSeed: number
): SampleItem[] {
  const anatomyNames = Object.keys(attributeGroups[kind].anatomy),
    styleNames = Object.keys(attributeGroups[kind].style)
  const items: SampleItem[] = []
  const maxTries = 50
  for (const cls of classes) {
    const own = pool.filter(c => c.class === cls)
    if (own.length === 0) continue
    const rng = new Rng(deriveSeed(runSeed, 'swap', cls))
    for (let k = 0; k < perClass; k++) {
      const base = rng.pick(own).attributes
      const donor = (differs: (a: Attributes) => boolean): Attributes | null => {
        for (let t = 0; t < maxTries; t++) {
          const d = rng.pick(pool).attributes
          if (differs(d)) return d
        }
        return null
      }
      const styleDonor = donor(d => d.colour !== base.colour)
      const anatomyDonor = donor(d => d.size !== base.size)
      const stem = `swap-${slug(cls)}-${String(k).padStart(3, '0')}`
      const seed = deriveSeed(runSeed, stem)
      const push = (suffix: string, attributes: Attributes) =>
        items.push({
          id: `${stem}-${suffix}`,
          class: cls,
          prompt: renderCaption(kind, cls, attributes).caption,
          seed,
          source: 'swap',
          attributes
        })
      push('base', base)
      if (styleDonor) push('style', {...pickGroup(base, anatomyNames), ...pickGroup(styleDonor, styleNames)})
      if (anatomyDonor) push('anatomy', {...pickGroup(anatomyDonor, anatomyNames), ...pickGroup(base, styleNames)})
    }
  }
  return items
}

/** Rows of the control figure: one anatomy attribute set to each of its values. */
export const controlGridRows = [
  ['size', ['small', 'medium', 'large']],
  ['shape', ['round', 'oval', 'irregular']]
] as const
/** Columns of the control figure: the lesion colour. */
export const controlGridColumn = 'colour'

/**
 * The control figure (issue 19 item 2): one seed and one base caption (the most frequent class's
 * first caption with a secondary colour of none, so the colour word is the only colour asked for);
 * each row sets one anatomy attribute, each column the colour. Item ids encode the cell:
 * control-r<row>-c<column>; attributes record the words asked for.
 */
export function controlGridItems(
  kind: DatasetKind,
  pool: Array<{class: string; attributes: Attributes}>,
  runSeed: number
): SampleItem[] {
  const counts = new Map<string, number>()
  for (const c of pool) counts.set(c.class, (counts.get(c.class) ?? 0) + 1)
  const cls = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0]
  const candidates = pool.filter(c => c.class === cls)
  const base = (candidates.find(c => c.attributes.secondaryColour === NONE) ?? candidates[0]).attributes
  const colours = (attributeGroups[kind].style[controlGridColumn] ?? []).filter(v => v !== NONE)
  const seed = deriveSeed(runSeed, 'control-grid')
  const items: SampleItem[] = []
  let row = 0
  for (const [name, values] of controlGridRows) {
    if (!(name in attributeGroups[kind].anatomy)) continue
    for (const value of values) {
      colours.forEach((colour, col) => {
        const attributes = {...base, [name]: value, [controlGridColumn]: colour}
        items.push({
          id: `control-r${row}-c${col}`,
          class: cls,
          prompt: renderCaption(kind, cls, attributes).caption,
          seed,
          source: 'control-grid',
          attributes
        })
      })
      row++
    }
  }
  return items
}
