// Issue 23 item 8: a stop signal that arrives between checkpoints is honoured within one step.
// The steps here never leave the microtask queue (like a wasm step whose awaits are all resolved
// promises), so the loop must yield to the event loop itself for the handler to run.
import {expect} from 'chai'
import {trainLoop} from '../../src/train/loop.js'
import {ExitCode, StoppedBySignal} from '../../src/errors.js'

describe('train loop: signals between checkpoints', () => {
  it('SIGUSR1 at step 8 of 40 with checkpoints every 1000 steps: stop checkpoint and exit 75 within one step', async () => {
    process.env.MEDGEN_QUIET = '1'
    const saved: number[] = []
    let err: unknown = null
    try {
      await trainLoop({
        label: 'signal-test',
        totalSteps: 40,
        startStep: 0,
        checkpointEvery: 1000,
        step: async i => {
          if (i === 7) process.kill(process.pid, 'SIGUSR1')
          return 1
        },
        checkpoint: async done => {
          saved.push(done)
          return `checkpoint-${done}`
        }
      })
    } catch (e) {
      err = e
    }
    expect(err).to.be.instanceOf(StoppedBySignal)
    expect((err as StoppedBySignal).exitCode).to.equal(ExitCode.requeue)
    expect(saved).to.have.length(1)
    expect(saved[0]).to.be.within(8, 9)
    expect((err as Error).message).to.match(
      new RegExp(`stopped by SIGUSR1 after step ${saved[0]}; checkpoint checkpoint-${saved[0]}`)
    )
  })
})
