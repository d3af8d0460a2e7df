// Multi-threaded wasm in Node (src/backend/wasm-threads.ts): the pool really has one thread per
// core, a process using it exits on its own, and the numbers equal the single-threaded build's.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {availableParallelism} from 'node:os'

const ROOT = new URL('../..', import.meta.url).pathname

/** Runs fixtures/threads-probe.ts in a child process with the given pool size. */
function probe(threads: number): {threads: number; conv: number; matmul: number} {
  const script = new URL('./fixtures/threads-probe.ts', import.meta.url).pathname
  const out = execFileSync(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: {...process.env, MEDGEN_WASM_THREADS: String(threads)},
    timeout: 60_000
  })
  return JSON.parse(out.toString().trim().split('\n').pop()!)
}

describe('wasm threads in Node', function () {
  this.timeout(130_000)
  it('uses one thread per core, exits by itself, and matches the single-threaded numbers', () => {
    const cores = Math.min(availableParallelism(), 8)
    const many = probe(cores)
    const one = probe(1)
    expect(one.threads).to.equal(1)
    expect(many.threads).to.equal(cores)
    expect(many.conv).to.equal(one.conv)
    expect(many.matmul).to.equal(one.matmul)
  })
})

describe('autoWasmThreads (run.threads 0)', () => {
  it('takes a thread per core left idle by the load average, at least one, at most the cores', async () => {
    const {autoWasmThreads} = await import('../../src/backend/index.js')
    expect(autoWasmThreads(2, 0.2)).to.equal(2)
    expect(autoWasmThreads(2, 0.9)).to.equal(2)
    expect(autoWasmThreads(2, 1.2)).to.equal(1)
    expect(autoWasmThreads(2, 14)).to.equal(1)
    expect(autoWasmThreads(16, 4.5)).to.equal(12)
    expect(autoWasmThreads(16, 0)).to.equal(16)
  })
})
