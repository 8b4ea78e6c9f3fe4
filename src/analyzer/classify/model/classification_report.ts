/** Precision, recall, F1 and support of one class. */
export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** The `qts model eval --json` object. */
export interface ClassificationReport {
  accuracy: number;
  macro_f1: number;
  per_class: Record<string, ClassScores>;
}

/**
 * Scores predictions the way scikit-learn's classification_report does: macro-F1 averages the F1
 * of every class that occurs in the truth or the predictions (0 where undefined).
 */
export function classificationReport(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: readonly string[],
): ClassificationReport {
  if (truth.length !== predicted.length) {
    throw new RangeError(
      `Cannot score: ${truth.length} true labels but ${predicted.length} predictions`,
    );
  }
  const K = classes.length;
  const tp = new Float64Array(K),
    support = new Float64Array(K),
    predictedCount = new Float64Array(K);
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!, p = predicted[i]!;
    support[t]!++;
    predictedCount[p]!++;
    if (t === p) {
      tp[t]!++;
      correct++;
    }
  }
  const perClass: Record<string, ClassScores> = {};
  let f1Sum = 0, counted = 0;
  for (let k = 0; k < K; k++) {
    if (support[k] === 0 && predictedCount[k] === 0) continue;
    const precision = predictedCount[k]! > 0 ? tp[k]! / predictedCount[k]! : 0;
    const recall = support[k]! > 0 ? tp[k]! / support[k]! : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[classes[k]!] = { precision, recall, f1, support: support[k]! };
    f1Sum += f1;
    counted++;
  }
  return {
    accuracy: truth.length > 0 ? correct / truth.length : 0,
    macro_f1: counted > 0 ? f1Sum / counted : 0,
    per_class: perClass,
  };
}
