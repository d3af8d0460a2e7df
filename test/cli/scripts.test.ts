// Exit codes and output for scripts (issue 21 "Exit codes and output for scripts"): a caption run
// with failed images and an eval with a requested metric skipped exit 3 (ExitCode.incomplete)
// so that `sbatch --dependency=afterok` stops; the pytorch-fid form `medgen eval GEN REAL`
// prints the value on stdout; --json; pytorch-fid's cached Inception weights; OLLAMA_HOST.
import {expect} from 'chai'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import sharp from 'sharp'
import {parse} from 'yaml'
import {ensureBuilt, medgen, medgenAsync} from '../helpers/cli.js'
import {tmpDir} from '../helpers/tmp.js'
import {startFakeOllama} from '../caption/fake-ollama.js'
import {makeImageFolder} from '../caption/helpers.js'

async function imageDir(dir: string, n: number, shade: number): Promise<void> {
  mkdirSync(dir, {recursive: true})
  for (let i = 0; i < n; i++) {
    const rgb = Buffer.alloc(16 * 16 * 3)
    for (let p = 0; p < rgb.length; p++) rgb[p] = (shade + 37 * i + (p % 7) * 20) & 255
    await sharp(rgb, {raw: {width: 16, height: 16, channels: 3}})
      .png()
      .toFile(join(dir, `${i}.png`))
  }
}

describe('medgen exit codes and output for scripts (built)', function () {
  this.timeout(180_000)
  before(() => ensureBuilt())

  it("caption: failed images exit 3 naming --allow-failures; the last line counts the server's retries", async () => {
    const data = join(tmpDir(), 'folder-data')
    await makeImageFolder(data, 4)
    const server = await startFakeOllama({chat: () => 'no JSON here'})
    const run = tmpDir()
    // the info lines are what this test reads: another test of the same process may have set MEDGEN_QUIET
    const quiet = process.env.MEDGEN_QUIET
    delete process.env.MEDGEN_QUIET
    try {
      const args = [
        'caption',
        data,
        '--run-dir',
        run,
        '--captioner',
        'ollama',
        '--host',
        server.url,
        '--set',
        'caption.retries=1',
        '--set',
        'caption.backoffMs=0'
      ]
      const r = await medgenAsync(args)
      expect(r.status, r.stderr).to.equal(3)
      const lines = r.stderr.trim().split('\n')
      expect(lines.at(-1)).to.match(/^medgen: 4 of 4 images got no caption .*--allow-failures 4 accepts this$/)
      expect(
        lines.find(l => l.includes('captions in')),
        r.stderr
      ).to.match(/0 new, 0 kept, 4 failed\); the server needed 4 retries$/)
      const lenient = await medgenAsync([...args, '--allow-failures', '4'])
      expect(lenient.status, lenient.stderr).to.equal(0)
    } finally {
      await server.close()
      if (quiet !== undefined) process.env.MEDGEN_QUIET = quiet
    }
  })

  it('eval GEN_DIR REAL_DIR: FID without Inception weights exits 3; --metric hfd prints the value on stdout; --json', async () => {
    const dir = tmpDir()
    await imageDir(join(dir, 'gen'), 6, 10)
    await imageDir(join(dir, 'real'), 6, 90)
    const env = {MEDGEN_QUIET: '1', TORCH_HOME: join(dir, 'no-torch')}
    const fid = medgen(['eval', 'gen', 'real', '--run-dir', 'run'], {cwd: dir, env})
    expect(fid.status).to.equal(3)
    expect(fid.stderr.trim()).to.match(
      /^medgen: fid skipped \(needs weights\.inception.*\); the other metrics are in run\/eval\/metrics\.json$/
    )
    const hfd = medgen(['eval', 'gen', 'real', '--run-dir', 'run', '--metric', 'hfd'], {cwd: dir, env})
    expect(hfd.status, hfd.stderr).to.equal(0)
    expect(hfd.stdout).to.match(/^HFD: {2}\d+(\.\d+)?(e[-+]\d+)?\n$/)
    const json = medgen(['eval', 'gen', 'real', '--run-dir', 'run', '--metric', 'hfd', '--json'], {cwd: dir, env})
    expect(json.status, json.stderr).to.equal(0)
    const result = JSON.parse(json.stdout)
    expect(result.metrics.hfd.value).to.equal(Number(hfd.stdout.split(/\s+/)[1]))
    expect(result.nGen).to.equal(6)
    // FID named with --metric next to a metric that runs: the other is written, the exit is still 3
    const named = medgen(['eval', 'gen', 'real', '--run-dir', 'named', '--metric', 'fid,hfd'], {cwd: dir, env})
    expect(named.status, named.stderr).to.equal(3)
    expect(named.stdout).to.match(/^HFD: /)
    const written = JSON.parse(readFileSync(join(dir, 'named', 'eval', 'metrics.json'), 'utf8')).metrics
    expect(written.fid.skipped).to.match(/weights\.inception/)
    expect(written.hfd.value).to.be.a('number')
    const help = medgen(['eval', '--help']).stdout.replace(/\s+/g, ' ')
    expect(help).to.include("pytorch-fid's bilinear resize")
    expect(help).to.include("not clean-fid's")
    expect(help).to.include('$TORCH_HOME/hub/checkpoints')
    const unknown = medgen(['eval', '--metric', 'fd'], {cwd: dir, env})
    expect(unknown.status).to.equal(2)
    expect(unknown.stderr).to.include('Expected --metric=fd to be one of: fid, kid, hfd, dfd, control')
  })

  it("weights.inception defaults to pytorch-fid's cached copy; caption.host to OLLAMA_HOST", () => {
    const torchHome = tmpDir()
    const cached = join(torchHome, 'hub', 'checkpoints', 'pt_inception-2015-12-05-6726825d.pth')
    mkdirSync(join(torchHome, 'hub', 'checkpoints'), {recursive: true})
    writeFileSync(cached, 'stand-in')
    const shown = medgen(['config', 'show'], {env: {TORCH_HOME: torchHome, OLLAMA_HOST: '10.1.2.3'}})
    expect(shown.status, shown.stderr).to.equal(0)
    const config = parse(shown.stdout)
    expect(config.weights.inception).to.equal(cached)
    expect(config.caption.host).to.equal('http://10.1.2.3:11434')
    const plain = parse(
      medgen(['config', 'show'], {env: {TORCH_HOME: join(torchHome, 'none'), OLLAMA_HOST: ''}}).stdout
    )
    expect(plain.weights.inception).to.equal('')
    expect(plain.caption.host).to.equal('http://127.0.0.1:11434')
  })
})
