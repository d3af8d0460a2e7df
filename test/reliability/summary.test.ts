// The suite's counts (issue 12, "Must show"): a root-level after() hook, so it runs once after
// every test file of the mocha run and reports what the reliability tests actually exercised.
import {counters, fullSuite} from './harness.js'

after(function () {
  const c = counters
  if (c.killResumeCycles + c.signalStops + c.badInputs + c.soakRuns === 0) return
  console.log(
    `\nreliability${fullSuite ? ' (full)' : ''}: ${c.killResumeCycles} kill/resume cycles survived, ` +
      `${c.signalStops} signal stops resumed, ${c.badInputs} bad inputs tried, ${c.leaksFound} leaks found (${c.soakRuns} soak runs)`
  )
})
