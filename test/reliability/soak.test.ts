// Memory soak in CI (issue 12 item 5): 150 DiT training steps (LoRA on a frozen base, HFFM,
// colour loss in train mode) in a child process with --expose-gc, sampled every 25 steps. The
// tfjs tensor count must not move after warm-up and RSS must stay within a small bound.
// scripts/soak-dit.ts runs the full version (2,000 steps on pixart-demo) and prints the figures.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {counters, fullSuite, repoRoot} from './harness.js'
import type {SoakResult} from '../../scripts/soak-dit.js'

function runSoak(args: string[]): Promise<{code: number | null, out: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(repoRoot, 'scripts/soak-dit.ts'), ...args, '--json'], {cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    child.on('error', reject)
    child.on('close', code => resolve({code, out}))
  })
}

describe('reliability: memory soak', function () {
  this.timeout(900_000)
  const runs = fullSuite
    ? [{label: 'pixart-demo from scratch, 2000 steps', args: ['--steps', '2000', '--every', '50', '--preset', 'pixart-demo'], rssBoundMiB: 48}]
    : [{label: 'micro DiT + LoRA, 150 steps', args: ['--steps', '150', '--every', '25', '--preset', 'micro', '--lora'], rssBoundMiB: 24}]
  for (const run of runs) {
    it(`DiT training step, ${run.label}: tensor count flat after warm-up, RSS growth bounded`, async () => {
      const {code, out} = await runSoak(run.args)
      const json = /soak-dit-json (.*)/.exec(out)
      expect(json, out.slice(-2000)).to.not.equal(null)
      const r = JSON.parse(json![1]) as SoakResult
      const first = r.samples[0]
      const last = r.samples[r.samples.length - 1]
      console.log(`      ${r.samples.length} samples: tensors ${first.numTensors} at step 1 -> ${last.numTensors} at step ${last.step}; ` +
        `RSS ${first.rssMiB.toFixed(0)} -> ${last.rssMiB.toFixed(0)} MiB (growth after warm-up ${r.rssGrowthMiB.toFixed(1)} MiB); ${r.secondsPerStep.toFixed(3)} s/step`)
      const leaked = r.tensorGrowth !== 0 || r.rssGrowthMiB > run.rssBoundMiB
      if (leaked) counters.leaksFound++
      counters.soakRuns++
      expect(r.tensorGrowth, 'tfjs tensors leaked per step').to.equal(0)
      expect(r.rssGrowthMiB, 'RSS growth after warm-up (MiB)').to.be.below(run.rssBoundMiB)
      expect(code).to.equal(0)
    })
  }
})
