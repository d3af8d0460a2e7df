// Parity with test/fixtures/golden/clsmetrics (scikit-learn 1.2.1), including the missing-class case.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {readSafetensors} from '../../src/io/safetensors.js'
import {aucOvo, aucOvr, binaryAuc, classificationReport, MetricUndefined} from '../../src/metrics/classification.js'
import {goldenDir} from '../helpers/tmp.js'

const dir = join(goldenDir, 'clsmetrics')
// Python's json writes NaN literally; JSON.parse needs it quoted first.
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8').replace(/\bNaN\b/g, '"NaN"'), (_k, v) =>
  v === 'NaN' ? NaN : v
)
const k = config.num_classes as number

function near(actual: number | null, expected: number, atol: number, what: string): void {
  expect(actual, what).to.not.equal(null)
  expect(Math.abs((actual as number) - expected), `${what}: ${actual} vs ${expected}`).to.be.at.most(atol)
}

async function load(prefix: string) {
  const t = await readSafetensors(join(dir, 'data.safetensors'))
  const ints = (name: string) => Int32Array.from(t.get(prefix + name)!.data as BigInt64Array, v => Number(v))
  // sklearn casts the float32 probabilities to float64; so does Float64Array.from.
  return {
    yTrue: ints('y_true'),
    yPred: ints('y_pred'),
    yProb: Float64Array.from(t.get(prefix + 'y_prob')!.data as Float32Array)
  }
}

describe('metrics/classification (golden/clsmetrics)', () => {
  it('every metric of the full case within tolerance, confusion matrix exact', async () => {
    const d = await load('')
    const e = config.expected
    const r = classificationReport({...d, numClasses: k})
    near(r.accuracy, e.accuracy, 1e-12, 'accuracy')
    near(r.f1Macro, e.f1_macro, 1e-12, 'f1_macro')
    near(r.f1Weighted, e.f1_weighted, 1e-12, 'f1_weighted')
    near(r.precisionMacro, e.precision_macro, 1e-12, 'precision_macro')
    near(r.recallMacro, e.recall_macro, 1e-12, 'recall_macro')
    near(r.balancedAccuracy, e.balanced_accuracy, 1e-12, 'balanced_accuracy')
    near(r.aucOvrMacro, e.roc_auc_ovr_macro, 1e-9, 'auc ovr macro')
    near(r.aucOvrWeighted, e.roc_auc_ovr_weighted, 1e-9, 'auc ovr weighted')
    near(r.aucOvoMacro, e.roc_auc_ovo_macro, 1e-9, 'auc ovo macro')
    r.perClassAucOvr!.forEach((v, c) => near(v, e.roc_auc_ovr_per_class[c], 1e-9, `auc class ${c}`))
    r.perClassF1.forEach((v, c) => near(v, e.f1_per_class_labels_all[c], 1e-12, `f1 class ${c}`))
    expect(r.confusionMatrix).to.deep.equal(e.confusion_matrix)
    expect(r.warnings).to.deep.equal([])
  })

  it('missing class (df never in y_true): sklearn behaviour per metric', async () => {
    const d = await load('missing.')
    const mc = config.missing_class_case
    const e = mc.expected
    const r = classificationReport({...d, numClasses: k})
    near(r.accuracy, e.accuracy, 1e-12, 'accuracy')
    near(r.f1Macro, e.f1_macro, 1e-12, 'f1_macro (7 labels, F1 = 0 for df)')
    near(r.f1Weighted, e.f1_weighted, 1e-12, 'f1_weighted')
    near(r.precisionMacro, e.precision_macro, 1e-12, 'precision_macro')
    near(r.recallMacro, e.recall_macro, 1e-12, 'recall_macro (df counted as 0)')
    near(r.balancedAccuracy, e.balanced_accuracy, 1e-12, 'balanced_accuracy (df ignored)')
    r.perClassF1.forEach((v, c) => near(v, e.f1_per_class_labels_all[c], 1e-12, `f1 class ${c}`))
    expect(r.confusionMatrix).to.deep.equal(e.confusion_matrix)
    // roc_auc_score raises in sklearn: reported as null with the same message.
    expect(r.aucOvrMacro).to.equal(null)
    expect(r.aucOvrWeighted).to.equal(null)
    expect(r.aucOvoMacro).to.equal(null)
    expect(r.aucError).to.equal(e.roc_auc_ovr_macro.message)
    expect(() => aucOvr(d.yTrue, d.yProb, k, 'macro')).to.throw(MetricUndefined, e.roc_auc_ovr_macro.message)
    expect(() => aucOvo(d.yTrue, d.yProb, k)).to.throw(MetricUndefined, e.roc_auc_ovo_macro.message)
    // Per-class OvR AUC: NaN for the missing class, values for the rest.
    r.perClassAucOvr!.forEach((v, c) => {
      const want = e.roc_auc_ovr_per_class[c]
      if (Number.isNaN(want)) expect(Number.isNaN(v), `class ${c} NaN`).to.equal(true)
      else near(v, want, 1e-9, `auc class ${c}`)
    })
    const missing = mc.missing_class_index as number
    expect(() =>
      binaryAuc(
        Array.from(d.yTrue, y => y === missing),
        new Float64Array(d.yTrue.length)
      )
    ).to.throw(e.roc_auc_ovr_macro_labels_all.message)
    // sklearn's two warnings are reported.
    expect(r.warnings.some(w => w.startsWith('Recall is ill-defined'))).to.equal(true)
    expect(r.warnings.some(w => w.startsWith('y_pred contains classes not in y_true'))).to.equal(true)
  })

  it('an all-majority predictor gives the paper PixArt row pattern (weighted F1 ~ p·2p/(1+p), BACC = 1/k)', async () => {
    const d = await load('')
    const nv = config.classes.indexOf('nv')
    const r = classificationReport({yTrue: d.yTrue, yPred: new Int32Array(d.yTrue.length).fill(nv), numClasses: k})
    const p = config.class_counts[nv] / config.n
    near(r.f1Weighted, (p * 2 * p) / (1 + p), 1e-12, 'weighted F1')
    near(r.balancedAccuracy, 1 / k, 1e-12, 'BACC')
  })

  it('rejects labels out of range and mismatched lengths', () => {
    expect(() => classificationReport({yTrue: [0, 1], yPred: [0], numClasses: 2})).to.throw(/y_pred has 1/)
    expect(() => classificationReport({yTrue: [0, 3], yPred: [0, 1], numClasses: 2})).to.throw(/outside 0..1/)
  })
})
