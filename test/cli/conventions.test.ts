// CLI conventions (issue 21 "CLI conventions", issue 23 class 9): oclif's parse errors keep
// their reason, -h and `medgen help CMD` work, a mistyped command gets the nearest one.
import {expect} from 'chai'
import {ensureBuilt, medgen} from '../helpers/cli.js'

function oneLine(r: {stderr: string}): string {
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).to.have.length(1)
  return lines[0]
}

describe('medgen CLI conventions (built)', function () {
  this.timeout(120_000)
  before(() => ensureBuilt())

  it('a bad flag value names the flag and the reason on one line, exit 2', () => {
    const rank = medgen(['finetune-dit', '--rank', 'abc'])
    expect(rank.status).to.equal(2)
    expect(oneLine(rank)).to.equal('medgen: Parsing --rank: Expected an integer but received: abc; see medgen finetune-dit --help')
    const steps = medgen(['finetune-dit', '--steps', '1e12'])
    expect(steps.status).to.equal(2)
    expect(oneLine(steps)).to.include('Expected an integer but received: 1e12')
  })

  it('a missing argument names it and says why a --set before it would have eaten it', () => {
    const r = medgen(['run'])
    expect(r.status).to.equal(2)
    expect(oneLine(r)).to.match(/^medgen: Missing 1 required arg: config .*multi-value flags such as --set/)
  })

  it('-h and `medgen help CMD` print the command help, exit 0', () => {
    const short = medgen(['caption', '-h'])
    const long = medgen(['help', 'caption'])
    for (const r of [short, long]) {
      expect(r.status, r.stderr).to.equal(0)
      expect(r.stdout).to.include('Caption every image of a dataset')
      expect(r.stdout).to.include('FLAGS')
    }
  })

  it('a mistyped command suggests the nearest one, exit 2', () => {
    const r = medgen(['captio'])
    expect(r.status).to.equal(2)
    expect(oneLine(r)).to.equal('medgen: captio is not a medgen command; did you mean `medgen caption`?')
    const far = medgen(['xyzzy'])
    expect(far.status).to.equal(2)
    expect(oneLine(far)).to.include('`medgen --help` lists the commands')
  })
})
