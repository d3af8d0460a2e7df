// Classification metrics with scikit-learn 1.2 semantics (paper §3.2's F1 / BACC / AUC;
// docs/REFERENCE.md §7 pins F1 = support-weighted, BACC = mean per-class recall). The label set
// follows sklearn: inferred from y_true ∪ y_pred for f1/precision/recall/confusion matrix,
// from y_true for roc_auc (whose score columns must equal the classes present), and
// zero_division "warn" -> 0. Warnings sklearn would print are returned in `warnings`.

export interface ClassificationInput {
  yTrue: ArrayLike<number>
  yPred: ArrayLike<number>
  /** [n, k] row-major class probabilities (rows sum to 1), k = number of classes */
  yProb?: ArrayLike<number>
  numClasses: number
}

export class MetricUndefined extends Error {}

export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): number[][] {
  const m = Array.from({length: numClasses}, () => new Array<number>(numClasses).fill(0))
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]][yPred[i]]++
  return m
}

/** Sorted labels present in any of the arrays (sklearn's unique_labels). */
export function presentLabels(...arrays: ArrayLike<number>[]): number[] {
  const s = new Set<number>()
  for (const a of arrays) for (let i = 0; i < a.length; i++) s.add(a[i])
  return [...s].sort((a, b) => a - b)
}

export interface PerClass {
  precision: number[]
  recall: number[]
  f1: number[]
  support: number[]
}

/** Per-class precision/recall/F1 over `labels`, zero_division = 0. */
export function perClassScores(cm: number[][], labels: number[]): PerClass {
  const out: PerClass = {precision: [], recall: [], f1: [], support: []}
  for (const c of labels) {
    const tp = cm[c][c]
    const support = cm[c].reduce((a, b) => a + b, 0)
    const predicted = cm.reduce((a, row) => a + row[c], 0)
    const precision = predicted > 0 ? tp / predicted : 0
    const recall = support > 0 ? tp / support : 0
    // sklearn 1.2: F1 from precision and recall, 0 when both are 0.
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0
    out.precision.push(precision)
    out.recall.push(recall)
    out.f1.push(f1)
    out.support.push(support)
  }
  return out
}

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length

function weightedMean(v: number[], w: number[]): number {
  const total = w.reduce((a, b) => a + b, 0)
  return total > 0 ? v.reduce((a, x, i) => a + x * w[i], 0) / total : 0
}

/**
 * Binary ROC AUC as sklearn computes it: ROC points at each distinct score (ties grouped),
 * trapezoidal area. Throws when only one class is present.
 */
export function binaryAuc(positive: ArrayLike<boolean>, score: ArrayLike<number>): number {
  const n = positive.length
  const order = Array.from({length: n}, (_, i) => i).sort((a, b) => score[b] - score[a])
  let P = 0
  for (let i = 0; i < n; i++) if (positive[i]) P++
  const N = n - P
  if (P === 0 || N === 0)
    throw new MetricUndefined('Only one class present in y_true. ROC AUC score is not defined in that case.')
  let tp = 0,
    fp = 0,
    prevTp = 0,
    prevFp = 0,
    area = 0
  for (let i = 0; i < n; i++) {
    const idx = order[i]
    if (positive[idx]) tp++
    else fp++
    if (i === n - 1 || score[order[i + 1]] !== score[idx]) {
      area += ((fp - prevFp) * (tp + prevTp)) / 2
      prevTp = tp
      prevFp = fp
    }
  }
  return area / (P * N)
}

function probColumn(prob: ArrayLike<number>, k: number, c: number, rows?: number[]): Float64Array {
  const n = rows ? rows.length : prob.length / k
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = prob[(rows ? rows[i] : i) * k + c]
  return out
}

/** One-vs-rest AUC per class (NaN where the class is absent from y_true or is everything). */
export function aucOvrPerClass(yTrue: ArrayLike<number>, prob: ArrayLike<number>, k: number): number[] {
  return Array.from({length: k}, (_, c) => {
    try {
      return binaryAuc(
        Array.from(yTrue, y => y === c),
        probColumn(prob, k, c)
      )
    } catch (e) {
      if (e instanceof MetricUndefined) return NaN
      throw e
    }
  })
}

function checkMulticlassAuc(yTrue: ArrayLike<number>, prob: ArrayLike<number>, k: number): void {
  const present = presentLabels(yTrue)
  if (present.length !== k)
    throw new MetricUndefined("Number of classes in y_true not equal to the number of columns in 'y_score'")
  const n = yTrue.length
  for (let i = 0; i < n; i++) {
    let s = 0
    for (let c = 0; c < k; c++) s += prob[i * k + c]
    // np.allclose(1, sum): rtol 1e-5, atol 1e-8.
    if (Math.abs(s - 1) > 1e-8 + 1e-5 * Math.abs(s))
      throw new MetricUndefined(
        'Target scores need to be probabilities for multiclass roc_auc, i.e. they should sum up to 1.0 over classes'
      )
  }
}

/** roc_auc_score(multi_class='ovr', average='macro'|'weighted'). */
export function aucOvr(
  yTrue: ArrayLike<number>,
  prob: ArrayLike<number>,
  k: number,
  average: 'macro' | 'weighted'
): number {
  checkMulticlassAuc(yTrue, prob, k)
  const per = aucOvrPerClass(yTrue, prob, k)
  if (average === 'macro') return mean(per)
  const support = Array.from({length: k}, (_, c) => Array.prototype.filter.call(yTrue, (y: number) => y === c).length)
  return weightedMean(per, support)
}

/** roc_auc_score(multi_class='ovo', average='macro'): Hand & Till (2001). */
export function aucOvo(yTrue: ArrayLike<number>, prob: ArrayLike<number>, k: number): number {
  checkMulticlassAuc(yTrue, prob, k)
  const scores: number[] = []
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const rows: number[] = []
      for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === a || yTrue[i] === b) rows.push(i)
      const isA = rows.map(i => yTrue[i] === a)
      const aucA = binaryAuc(isA, probColumn(prob, k, a, rows))
      const aucB = binaryAuc(
        isA.map(v => !v),
        probColumn(prob, k, b, rows)
      )
      scores.push((aucA + aucB) / 2)
    }
  }
  return mean(scores)
}

export interface ClassificationReport {
  n: number
  accuracy: number
  f1Weighted: number
  f1Macro: number
  precisionMacro: number
  recallMacro: number
  balancedAccuracy: number
  /** null with the reason when sklearn would raise (a class missing from y_true) */
  aucOvrMacro: number | null
  aucOvrWeighted: number | null
  aucOvoMacro: number | null
  aucError?: string
  /** per class index 0..k-1 (NaN AUC / 0 recall for classes absent from y_true) */
  perClassRecall: number[]
  perClassF1: number[]
  perClassAucOvr: number[] | null
  confusionMatrix: number[][]
  warnings: string[]
}

/** Every metric of issue 10 at once, with sklearn's per-metric handling of absent classes. */
export function classificationReport(input: ClassificationInput): ClassificationReport {
  const {yTrue, yPred, yProb, numClasses: k} = input
  const n = yTrue.length
  if (yPred.length !== n) throw new Error(`y_pred has ${yPred.length} entries, y_true ${n}`)
  for (const arr of [yTrue, yPred])
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(arr[i]) || arr[i] < 0 || arr[i] >= k) throw new Error(`label ${arr[i]} outside 0..${k - 1}`)
    }
  const cm = confusionMatrix(yTrue, yPred, k)
  const labels = presentLabels(yTrue, yPred)
  const trueLabels = presentLabels(yTrue)
  const per = perClassScores(cm, labels)
  const warnings: string[] = []
  if (labels.some(c => !trueLabels.includes(c))) {
    warnings.push('Recall is ill-defined and being set to 0.0 in labels with no true samples.')
    warnings.push('y_pred contains classes not in y_true (balanced accuracy ignores them)')
  }
  if (per.precision.some((_, i) => cm.reduce((a, row) => a + row[labels[i]], 0) === 0)) {
    warnings.push('Precision is ill-defined and being set to 0.0 in labels with no predicted samples.')
  }
  let correct = 0
  for (let i = 0; i < n; i++) if (yTrue[i] === yPred[i]) correct++
  const all = perClassScores(
    cm,
    Array.from({length: k}, (_, c) => c)
  )
  const report: ClassificationReport = {
    n,
    accuracy: correct / n,
    f1Weighted: weightedMean(per.f1, per.support),
    f1Macro: mean(per.f1),
    precisionMacro: mean(per.precision),
    recallMacro: mean(per.recall),
    balancedAccuracy: mean(trueLabels.map(c => all.recall[c])),
    aucOvrMacro: null,
    aucOvrWeighted: null,
    aucOvoMacro: null,
    perClassRecall: all.recall,
    perClassF1: all.f1,
    perClassAucOvr: null,
    confusionMatrix: cm,
    warnings
  }
  if (yProb) {
    if (yProb.length !== n * k) throw new Error(`y_prob has ${yProb.length} values, expected ${n} x ${k}`)
    report.perClassAucOvr = aucOvrPerClass(yTrue, yProb, k)
    try {
      report.aucOvrMacro = aucOvr(yTrue, yProb, k, 'macro')
      report.aucOvrWeighted = aucOvr(yTrue, yProb, k, 'weighted')
      report.aucOvoMacro = aucOvo(yTrue, yProb, k)
    } catch (e) {
      if (!(e instanceof MetricUndefined)) throw e
      report.aucError = e.message
    }
  }
  return report
}

/** Definitions written next to the values in classify/metrics.json. */
export const classificationDefinitions: Record<string, string> = {
  accuracy: 'fraction of test images whose argmax prediction equals the label',
  f1Weighted:
    "support-weighted mean of per-class F1 over labels in y_true ∪ y_pred (sklearn average='weighted'; the paper's F1)",
  f1Macro: 'unweighted mean of per-class F1 over labels in y_true ∪ y_pred',
  precisionMacro: 'unweighted mean of per-class precision (0 for a class never predicted)',
  recallMacro: 'unweighted mean of per-class recall over labels in y_true ∪ y_pred (0 for a class absent from y_true)',
  balancedAccuracy:
    "mean recall over the classes present in y_true (sklearn balanced_accuracy_score; the paper's BACC)",
  aucOvrMacro:
    'mean one-vs-rest ROC AUC from softmax probabilities (null when a class is absent from y_true, as sklearn raises)',
  aucOvrWeighted: 'support-weighted one-vs-rest ROC AUC',
  aucOvoMacro: 'Hand & Till one-vs-one ROC AUC, mean over class pairs',
  confusionMatrix: 'rows = true class, columns = predicted class'
}
