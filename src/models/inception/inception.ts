// Inception v3, FID variant: pytorch-fid's InceptionV3 = torchvision Inception3 with Mixed_5b-d
// = FIDInceptionA, 6b-e = FIDInceptionC, 7b = FIDInceptionE_1, 7c = FIDInceptionE_2
// (docs/REFERENCE.md §7, docs/DESIGN.md "Metrics"; golden/README.md §5). Parameter names are the
// torchvision state_dict keys of pt_inception-2015-12-05-6726825d.pth. Activations are NHWC.
// The FID patches: the branch_pool average pools exclude padding (count_include_pad=False, which
// is TF/tfjs 'same' semantics), and 7c's branch_pool is a 3x3/s1 max pool.
import * as tf from '@tensorflow/tfjs'

/** A BasicConv2d (conv without bias + BatchNorm eps 1e-3 + ReLU). */
export interface ConvSpec {
  name: string
  inCh: number
  outCh: number
  kh: number
  kw: number
  stride: number
  ph: number
  pw: number
}

type Block =
  | {kind: 'conv'; conv: ConvSpec}
  | {kind: 'maxpool'}
  | {kind: 'A' | 'B' | 'C' | 'D' | 'E1' | 'E2'; name: string; convs: Record<string, ConvSpec>}

function conv(
  name: string,
  inCh: number,
  outCh: number,
  k: number | [number, number],
  stride = 1,
  pad: number | [number, number] = 0
): ConvSpec {
  const [kh, kw] = typeof k === 'number' ? [k, k] : k
  const [ph, pw] = typeof pad === 'number' ? [pad, pad] : pad
  return {name, inCh, outCh, kh, kw, stride, ph, pw}
}

function inceptionA(name: string, inCh: number, poolFeatures: number): Block {
  const c = (n: string, i: number, o: number, k: number, p = 0) => conv(`${name}.${n}`, i, o, k, 1, p)
  return {
    kind: 'A',
    name,
    convs: {
      branch1x1: c('branch1x1', inCh, 64, 1),
      branch5x5_1: c('branch5x5_1', inCh, 48, 1),
      branch5x5_2: c('branch5x5_2', 48, 64, 5, 2),
      branch3x3dbl_1: c('branch3x3dbl_1', inCh, 64, 1),
      branch3x3dbl_2: c('branch3x3dbl_2', 64, 96, 3, 1),
      branch3x3dbl_3: c('branch3x3dbl_3', 96, 96, 3, 1),
      branch_pool: c('branch_pool', inCh, poolFeatures, 1)
    }
  }
}

function inceptionB(name: string, inCh: number): Block {
  return {
    kind: 'B',
    name,
    convs: {
      branch3x3: conv(`${name}.branch3x3`, inCh, 384, 3, 2),
      branch3x3dbl_1: conv(`${name}.branch3x3dbl_1`, inCh, 64, 1),
      branch3x3dbl_2: conv(`${name}.branch3x3dbl_2`, 64, 96, 3, 1, 1),
      branch3x3dbl_3: conv(`${name}.branch3x3dbl_3`, 96, 96, 3, 2)
    }
  }
}

function inceptionC(name: string, inCh: number, c7: number): Block {
  const row = (n: string, i: number, o: number) => conv(`${name}.${n}`, i, o, [1, 7], 1, [0, 3])
  const col = (n: string, i: number, o: number) => conv(`${name}.${n}`, i, o, [7, 1], 1, [3, 0])
  return {
    kind: 'C',
    name,
    convs: {
      branch1x1: conv(`${name}.branch1x1`, inCh, 192, 1),
      branch7x7_1: conv(`${name}.branch7x7_1`, inCh, c7, 1),
      branch7x7_2: row('branch7x7_2', c7, c7),
      branch7x7_3: col('branch7x7_3', c7, 192),
      branch7x7dbl_1: conv(`${name}.branch7x7dbl_1`, inCh, c7, 1),
      branch7x7dbl_2: col('branch7x7dbl_2', c7, c7),
      branch7x7dbl_3: row('branch7x7dbl_3', c7, c7),
      branch7x7dbl_4: col('branch7x7dbl_4', c7, c7),
      branch7x7dbl_5: row('branch7x7dbl_5', c7, 192),
      branch_pool: conv(`${name}.branch_pool`, inCh, 192, 1)
    }
  }
}

function inceptionD(name: string, inCh: number): Block {
  return {
    kind: 'D',
    name,
    convs: {
      branch3x3_1: conv(`${name}.branch3x3_1`, inCh, 192, 1),
      branch3x3_2: conv(`${name}.branch3x3_2`, 192, 320, 3, 2),
      branch7x7x3_1: conv(`${name}.branch7x7x3_1`, inCh, 192, 1),
      branch7x7x3_2: conv(`${name}.branch7x7x3_2`, 192, 192, [1, 7], 1, [0, 3]),
      branch7x7x3_3: conv(`${name}.branch7x7x3_3`, 192, 192, [7, 1], 1, [3, 0]),
      branch7x7x3_4: conv(`${name}.branch7x7x3_4`, 192, 192, 3, 2)
    }
  }
}

function inceptionE(name: string, inCh: number, kind: 'E1' | 'E2'): Block {
  const c = (n: string, i: number, o: number, k: number | [number, number], p: number | [number, number] = 0) =>
    conv(`${name}.${n}`, i, o, k, 1, p)
  return {
    kind,
    name,
    convs: {
      branch1x1: c('branch1x1', inCh, 320, 1),
      branch3x3_1: c('branch3x3_1', inCh, 384, 1),
      branch3x3_2a: c('branch3x3_2a', 384, 384, [1, 3], [0, 1]),
      branch3x3_2b: c('branch3x3_2b', 384, 384, [3, 1], [1, 0]),
      branch3x3dbl_1: c('branch3x3dbl_1', inCh, 448, 1),
      branch3x3dbl_2: c('branch3x3dbl_2', 448, 384, 3, 1),
      branch3x3dbl_3a: c('branch3x3dbl_3a', 384, 384, [1, 3], [0, 1]),
      branch3x3dbl_3b: c('branch3x3dbl_3b', 384, 384, [3, 1], [1, 0]),
      branch_pool: c('branch_pool', inCh, 192, 1)
    }
  }
}

/** pytorch-fid's four blocks: [Conv1a..2b, pool], [3b, 4a, pool], [Mixed_5b..6e], [Mixed_7a..7c, avgpool]. */
export const inceptionBlocks: Block[][] = [
  [
    {kind: 'conv', conv: conv('Conv2d_1a_3x3', 3, 32, 3, 2)},
    {kind: 'conv', conv: conv('Conv2d_2a_3x3', 32, 32, 3)},
    {kind: 'conv', conv: conv('Conv2d_2b_3x3', 32, 64, 3, 1, 1)},
    {kind: 'maxpool'}
  ],
  [
    {kind: 'conv', conv: conv('Conv2d_3b_1x1', 64, 80, 1)},
    {kind: 'conv', conv: conv('Conv2d_4a_3x3', 80, 192, 3)},
    {kind: 'maxpool'}
  ],
  [
    inceptionA('Mixed_5b', 192, 32),
    inceptionA('Mixed_5c', 256, 64),
    inceptionA('Mixed_5d', 288, 64),
    inceptionB('Mixed_6a', 288),
    inceptionC('Mixed_6b', 768, 128),
    inceptionC('Mixed_6c', 768, 160),
    inceptionC('Mixed_6d', 768, 160),
    inceptionC('Mixed_6e', 768, 192)
  ],
  [inceptionD('Mixed_7a', 768), inceptionE('Mixed_7b', 1280, 'E1'), inceptionE('Mixed_7c', 2048, 'E2')]
]

/** Every BasicConv2d in state_dict order. */
export function inceptionConvs(): ConvSpec[] {
  const out: ConvSpec[] = []
  for (const block of inceptionBlocks.flat()) {
    if (block.kind === 'conv') out.push(block.conv)
    else if (block.kind !== 'maxpool') out.push(...Object.values(block.convs))
  }
  return out
}

/** The checkpoint's keys and PyTorch shapes, in torchvision state_dict order (fc included). */
export function inceptionParamShapes(numClasses = 1008): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = []
  for (const c of inceptionConvs()) {
    out.push([`${c.name}.conv.weight`, [c.outCh, c.inCh, c.kh, c.kw]])
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) out.push([`${c.name}.bn.${p}`, [c.outCh]])
  }
  out.push(['fc.weight', [numClasses, 2048]], ['fc.bias', [numClasses]])
  return out
}

/**
 * Inference weights of one BasicConv2d: the conv in HWIO with the eval-mode BatchNorm folded in
 * (w·gamma/sqrt(var+eps), beta - mean·gamma/sqrt(var+eps)); see ./weights.ts.
 */
export interface FoldedConv {
  filter: tf.Tensor4D
  bias: tf.Tensor1D
}
export type InceptionWeights = Map<string, FoldedConv>

function basicConv(x: tf.Tensor4D, spec: ConvSpec, w: InceptionWeights): tf.Tensor4D {
  const p = w.get(spec.name)
  if (!p) throw new Error(`inception weights lack ${spec.name}`)
  const pad =
    spec.ph === 0 && spec.pw === 0
      ? ('valid' as const)
      : ([
          [0, 0],
          [spec.ph, spec.ph],
          [spec.pw, spec.pw],
          [0, 0]
        ] as [[number, number], [number, number], [number, number], [number, number]])
  return tf.fused.conv2d({x, filter: p.filter, strides: spec.stride, pad, bias: p.bias, activation: 'relu'})
}

const avgPoolSame = (x: tf.Tensor4D) => tf.avgPool(x, 3, 1, 'same') // excludes padding from the count
const maxPool3s2 = (x: tf.Tensor4D) => tf.maxPool(x, 3, 2, 'valid')

function mixed(x: tf.Tensor4D, b: Extract<Block, {convs: unknown}>, w: InceptionWeights): tf.Tensor4D {
  const c = (name: string, input: tf.Tensor4D) => basicConv(input, b.convs[name], w)
  const chain = (names: string[]) => names.reduce((t, n) => c(n, t), x)
  switch (b.kind) {
    case 'A':
      return tf.concat(
        [
          c('branch1x1', x),
          chain(['branch5x5_1', 'branch5x5_2']),
          chain(['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3']),
          c('branch_pool', avgPoolSame(x))
        ],
        3
      )
    case 'B':
      return tf.concat(
        [c('branch3x3', x), chain(['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3']), maxPool3s2(x)],
        3
      )
    case 'C':
      return tf.concat(
        [
          c('branch1x1', x),
          chain(['branch7x7_1', 'branch7x7_2', 'branch7x7_3']),
          chain(['branch7x7dbl_1', 'branch7x7dbl_2', 'branch7x7dbl_3', 'branch7x7dbl_4', 'branch7x7dbl_5']),
          c('branch_pool', avgPoolSame(x))
        ],
        3
      )
    case 'D':
      return tf.concat(
        [
          chain(['branch3x3_1', 'branch3x3_2']),
          chain(['branch7x7x3_1', 'branch7x7x3_2', 'branch7x7x3_3', 'branch7x7x3_4']),
          maxPool3s2(x)
        ],
        3
      )
    case 'E1':
    case 'E2': {
      const b3 = c('branch3x3_1', x)
      const d3 = chain(['branch3x3dbl_1', 'branch3x3dbl_2'])
      const pooled = b.kind === 'E1' ? avgPoolSame(x) : tf.maxPool(x, 3, 1, 'same')
      return tf.concat(
        [
          c('branch1x1', x),
          tf.concat([c('branch3x3_2a', b3), c('branch3x3_2b', b3)], 3),
          tf.concat([c('branch3x3dbl_3a', d3), c('branch3x3dbl_3b', d3)], 3),
          c('branch_pool', pooled)
        ],
        3
      )
    }
  }
}

/**
 * Runs the network on preprocessed NHWC input ([B,299,299,3] in [-1,1]); returns pool3 [B,2048]
 * and, when asked, the output of each of pytorch-fid's four blocks (before the final pool).
 * `stages` < 4 stops early (pool3 is then the mean of the last block run): the parity test on the
 * plain-JS cpu backend checks the first block only, the full network taking minutes there.
 */
export function inceptionForward(
  x: tf.Tensor4D,
  w: InceptionWeights,
  keepBlocks = false,
  stages = inceptionBlocks.length
): {pool3: tf.Tensor2D; blocks: tf.Tensor4D[]} {
  const blocks: tf.Tensor4D[] = []
  let h = x
  for (const stage of inceptionBlocks.slice(0, stages)) {
    for (const b of stage) {
      const prev = h
      h = tf.tidy(() =>
        b.kind === 'conv' ? basicConv(prev, b.conv, w) : b.kind === 'maxpool' ? maxPool3s2(prev) : mixed(prev, b, w)
      )
      if (prev !== x && !blocks.includes(prev)) prev.dispose()
    }
    if (keepBlocks) blocks.push(h)
  }
  const pool3 = tf.tidy(() => h.mean([1, 2]) as tf.Tensor2D)
  if (!blocks.includes(h)) h.dispose()
  return {pool3, blocks}
}
