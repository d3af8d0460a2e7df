// Prints the markdown tables of the synthetic benchmark (scripts/synth-bench.sh) from the four run
// dirs' metrics files, for docs/RESULTS.md:  node scripts/synth-bench-table.mjs [runs/synth-bench]
import {existsSync, readFileSync} from 'node:fs'

const base = process.argv[2] ?? 'runs/synth-bench'
const read = p => existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null
const f = (v, d = 3) => v === null || v === undefined ? 'n/a' : Number(v).toFixed(d)
const modes = ['hffm', 'concat', 'text', 'class']

const visual = read(`${base}-hffm/visual/metrics.json`)
if (visual) {
  const s = visual.styleSwap
  console.log(`train-visual (${visual.images.total} images, ${visual.epochs} epochs, ${visual.steps} steps, ${f(visual.trainWallSeconds, 0)} s): ` +
    `val Dice ${f(visual.valDice)}, test Dice ${f(visual.testDice)}, test recon L1 ${f(visual.testReconL1)}; style swap over ${s.pairs} pairs: ` +
    `colours ${f(s.colourShiftTowardB, 2)} of the way to B (${f(100 * s.closerToB, 1)}% closer to B), mask IoU with A ${f(s.maskIoUWithA)} ` +
    `(with A's true mask ${f(s.maskIoUWithATruth)}; A's self-reconstruction ${f(s.maskIoUSelfReconstruction)}).\n`)
}
const text = read(`${base}-hffm/text/metrics.json`)
const probes = text?.probes ?? null
if (probes) {
  console.log('align-text probes (held-out accuracy of a linear probe on each head\'s output):\n')
  console.log('| attribute | group | anatomy head | style head | chance |')
  console.log('| --- | --- | --- | --- | --- |')
  for (const [name, p] of Object.entries(probes)) {
    if (!p?.fromAnatomyHead) continue
    console.log(`| ${name} | ${p.group} | ${f(p.fromAnatomyHead.accuracy)} | ${f(p.fromStyleHead.accuracy)} | ${f(p.fromAnatomyHead.chance)} |`)
  }
  console.log('')
}

console.log('| conditioning | DiT loss first -> last 10% | hfd | dfd | control (all) | anatomy acc. | style acc. | seconds (finetune-dit) |')
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
for (const mode of modes) {
  const dit = read(`${base}-${mode}/dit/metrics.json`)
  const ev = read(`${base}-${mode}/eval/metrics.json`)
  if (!dit && !ev) continue
  const m = ev?.metrics ?? {}
  console.log(`| ${mode} | ${f(dit?.loss.firstTenthMean)} -> ${f(dit?.loss.lastTenthMean)} | ${f(m.hfd?.value, 2)} | ${f(m.dfd?.value)} | ${f(m.control?.value)} | ` +
    `${f(m.control?.anatomyAccuracy)} | ${f(m.control?.styleAccuracy)} | ${f(dit?.secondsThisRun, 0)} |`)
}
const cls = read(`${base}-hffm/classify/metrics.json`)
if (cls) {
  console.log(`\nclassify (hffm samples; ${cls.preset}, ${cls.nTrain} train / ${cls.nTest} test real images, ${cls.nSyntheticPool} synthetic):\n`)
  console.log('| protocol | F1 (weighted) | BACC | AUC OvR macro | accuracy |')
  console.log('| --- | --- | --- | --- | --- |')
  for (const [name, p] of Object.entries(cls.protocols)) {
    const s = p.summary
    const ms = k => `${f(s[k].mean)} ± ${f(s[k].std)}`
    console.log(`| ${name} | ${ms('f1Weighted')} | ${ms('balancedAccuracy')} | ${ms('aucOvrMacro')} | ${ms('accuracy')} |`)
  }
}
