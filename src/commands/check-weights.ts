import {Args, Flags} from '@oclif/core'
import {MedgenCommand} from '../cli/base-command.js'
import {ExitCode} from '../errors.js'

export default class CheckWeights extends MedgenCommand {
  static summary = 'Load a pretrained weights folder, run it once at a named size, and say what fits on this machine.'

  static description = `Loads a model folder in the layout its public repository ships (diffusers transformer/ or vae/
with config.json and diffusion_pytorch_model.safetensors or shards + .index.json; Hugging Face
BERT/DistilBERT folders with model.safetensors or pytorch_model.bin; fp32, fp16 or bf16), reports
parameter count, dtype, bytes, peak RSS and backend memory, runs one forward pass (PixArt at --size
px plus one LoRA training step; the VAE encodes and decodes a --size px image; BERT encodes
--captions random captions) and prints what fits: e.g. whether a PixArt LoRA step at 512 px fits
the 4 GB wasm heap or needs the tensorflow backend. A PixArt phase estimated past the 4 GB wasm heap is
not run but reported with what it needs. Exit 0 when every phase ran, 1 when one failed or did not
fit (out of memory, say: the report says what it needed), 2 for a folder it cannot read.`

  static examples = [
    '<%= config.bin %> check-weights ./PixArt-XL-2-512x512/transformer --size 256',
    '<%= config.bin %> check-weights ./PixArt-XL-2-512x512/vae --size 256 --json',
    '<%= config.bin %> check-weights ./Bio_ClinicalBERT --captions 16'
  ]

  static args = {folder: Args.string({description: 'model folder (with config.json)', required: true})}

  static flags = {
    size: Flags.integer({description: 'image side in pixels for PixArt and the VAE', default: 256}),
    captions: Flags.integer({description: 'BERT: captions encoded in one batch', default: 16}),
    'seq-len': Flags.integer({description: 'BERT: tokens per caption', default: 32}),
    'cond-tokens': Flags.integer({description: 'PixArt: condition tokens per image (the HFFM gives 2)', default: 2}),
    train: Flags.boolean({description: 'PixArt: also run one LoRA training step', default: true, allowNo: true}),
    rank: Flags.integer({description: 'PixArt: LoRA rank of the training step', default: 8}),
    checkpoint: Flags.string({
      description: 'PixArt LoRA step: recompute blocks in the backward pass',
      options: ['auto', 'on', 'off'],
      default: 'auto'
    }),
    seed: Flags.integer({description: 'seed of the random inputs', default: 0}),
    backend: Flags.string({
      description: 'tfjs backend: auto, wasm, cpu, tensorflow, tensorflow-gpu (env MEDGEN_BACKEND)',
      default: 'auto'
    }),
    json: Flags.boolean({description: 'print the report as JSON'})
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(CheckWeights)
    const {initBackend} = await import('../backend/index.js')
    await initBackend(flags.backend as 'auto')
    const {checkWeights, formatCheckReport, formatPhase, phaseFailed} = await import('../check/check-weights.js')
    const report = await checkWeights(
      args.folder,
      {
        size: flags.size,
        captions: flags.captions,
        seqLen: flags['seq-len'],
        condTokens: flags['cond-tokens'],
        train: flags.train,
        loraRank: flags.rank,
        checkpoint: flags.checkpoint as 'auto',
        seed: flags.seed
      },
      p => process.stderr.write(`check-weights: ${formatPhase(p)}\n`)
    )
    this.log(flags.json ? JSON.stringify(report, null, 2) : formatCheckReport(report))
    // A phase that failed or was past the backend's memory is reported above; the exit status says so too.
    if (report.phases.some(phaseFailed)) process.exitCode = ExitCode.failure
  }
}
