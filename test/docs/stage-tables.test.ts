// The docs' pipeline tables, `medgen run`'s order and the run layout all come from one registry:
// these tests fail when a hand edit lets them drift apart again.
import {expect} from 'chai'
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {generatedTables, repoRoot, withTable} from '../../scripts/stage-tables.js'
import {stages} from '../../src/stages/registry.js'
import {stageNames} from '../../src/run/stage-names.js'
import {selectStages} from '../../src/stages/pipeline.js'
import {loadConfig} from '../../src/config/load.js'
import {runLayout, stageDirs} from '../../src/run/layout.js'

describe('stage registry', () => {
  for (const t of generatedTables) {
    it(`${t.file}: the ${t.name} table is the one the registry writes (npm run docs:stages)`, async () => {
      const text = await fs.readFile(join(repoRoot, t.file), 'utf8')
      expect(withTable(text, t.file, t.name, t.render())).to.equal(text)
    })
  }

  it("orders classify before eval (eval's dfd needs the classifier) and run follows that order", () => {
    expect(stageNames).to.deep.equal([
      'synth',
      'caption',
      'train-visual',
      'align-text',
      'finetune-dit',
      'generate',
      'classify',
      'eval'
    ])
    const config = loadConfig({})
    expect(config.run.stages).to.deep.equal([...stageNames])
    expect(selectStages(config, 'generate', 'eval')).to.deep.equal(['generate', 'classify', 'eval'])
  })

  it("each stage's spec writes to the folder the registry names, and its contracts live there", async () => {
    for (const s of stages) {
      const spec = await s.load()
      expect(spec.dir ?? spec.name, s.name).to.equal(s.dir)
      for (const w of s.writes) expect(w.path.startsWith(s.dir + '/'), w.path).to.equal(true)
    }
    expect(Object.values(stageDirs)).to.have.members(stages.map(s => s.dir))
  })

  it('the layout keeps the paths existing runs have', () => {
    const l = runLayout('/r')
    expect([
      l.captions.jsonl,
      l.visual.features,
      l.text.model,
      l.dit.meta,
      l.dit.lora,
      l.samples.manifest,
      l.classify.model,
      l.eval.metrics
    ]).to.deep.equal([
      '/r/captions/captions.jsonl',
      '/r/visual/features.safetensors',
      '/r/text/model.safetensors',
      '/r/dit/dit.json',
      '/r/dit/lora.safetensors',
      '/r/samples/manifest.jsonl',
      '/r/classify/model.safetensors',
      '/r/eval/metrics.json'
    ])
    expect(l.captions.parts.jsonl({index: 1, count: 4})).to.equal('/r/captions/parts/part-1-of-4.jsonl')
    expect(l.samples.parts.stageDir({index: 0, count: 2})).to.equal('samples/parts/part-0-of-2')
    expect(runLayout('').samples.image('mel', 'x1')).to.equal('samples/mel/x1.png')
  })
})
