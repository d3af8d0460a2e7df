// Linear probes that measure disentanglement: a multinomial logistic regression reads an
// attribute (e.g. shape, colour) from one head's features, fitted on the train captions and
// scored on held-out ones. If the heads are disentangled, the anatomy head predicts shape
// better than the style head does, and the style head predicts colour better.
export interface ProbeResult {
  /** held-out accuracy */
  accuracy: number
  trainAccuracy: number
  /** accuracy of always predicting the most frequent training label */
  chance: number
  classes: string[]
  nTrain: number
  nTest: number
}

/** Standardises with the training rows' mean and std (features are then comparable). */
function standardise(x: Float32Array, d: number, trainRows: number[]): (row: number) => Float64Array {
  const mean = new Float64Array(d)
  const std = new Float64Array(d)
  for (const r of trainRows) for (let k = 0; k < d; k++) mean[k] += x[r * d + k] / trainRows.length
  for (const r of trainRows) for (let k = 0; k < d; k++) std[k] += (x[r * d + k] - mean[k]) ** 2 / trainRows.length
  for (let k = 0; k < d; k++) std[k] = Math.sqrt(std[k]) || 1
  return row => Float64Array.from({length: d}, (_, k) => (x[row * d + k] - mean[k]) / std[k])
}

export function linearProbe(
  features: Float32Array,
  d: number,
  labels: string[],
  trainRows: number[],
  testRows: number[],
  opts: {iterations?: number; lr?: number; l2?: number} = {}
): ProbeResult {
  const classes = [...new Set(trainRows.map(r => labels[r]))].sort()
  const c = classes.length
  const norm = standardise(features, d, trainRows)
  const xs = new Map<number, Float64Array>()
  for (const r of [...trainRows, ...testRows]) xs.set(r, norm(r))
  const W = new Float64Array((d + 1) * c) // last row = bias
  const iterations = opts.iterations ?? 400
  const lr = opts.lr ?? 0.5
  const l2 = opts.l2 ?? 1e-3
  const logits = (x: Float64Array) =>
    Array.from({length: c}, (_, j) => {
      let s = W[d * c + j]
      for (let k = 0; k < d; k++) s += x[k] * W[k * c + j]
      return s
    })
  for (let it = 0; it < iterations; it++) {
    const g = new Float64Array(W.length)
    for (const r of trainRows) {
      const x = xs.get(r)!
      const z = logits(x)
      const m = Math.max(...z)
      const e = z.map(v => Math.exp(v - m))
      const s = e.reduce((a, b) => a + b, 0)
      const y = classes.indexOf(labels[r])
      for (let j = 0; j < c; j++) {
        const diff = e[j] / s - (j === y ? 1 : 0)
        for (let k = 0; k < d; k++) g[k * c + j] += diff * x[k]
        g[d * c + j] += diff
      }
    }
    for (let i = 0; i < W.length; i++) W[i] -= lr * (g[i] / trainRows.length + (i < d * c ? l2 * W[i] : 0))
  }
  const predict = (r: number) => {
    const z = logits(xs.get(r)!)
    return classes[z.indexOf(Math.max(...z))]
  }
  const acc = (rows: number[]) => (rows.length ? rows.filter(r => predict(r) === labels[r]).length / rows.length : NaN)
  const counts = new Map<string, number>()
  for (const r of trainRows) counts.set(labels[r], (counts.get(labels[r]) ?? 0) + 1)
  const majority = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0]
  const chance = testRows.length ? testRows.filter(r => labels[r] === majority).length / testRows.length : NaN
  return {
    accuracy: acc(testRows),
    trainAccuracy: acc(trainRows),
    chance,
    classes,
    nTrain: trainRows.length,
    nTest: testRows.length
  }
}
