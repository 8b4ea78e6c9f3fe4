import { type ClassificationReport, classificationReport } from "./classification_report.ts";
import type { Dataset } from "./parse_dataset.ts";
import { stratifiedFolds } from "./stratified_folds.ts";
import type { TrafficRows } from "./traffic_model.ts";

/** Class probabilities for the row at `base` of `x` (23 raw features) into `out`. */
export type Predictor = (x: Float64Array, base: number, out: Float64Array) => void;

/** Options of `crossValidate()`. */
export interface CrossValidateOptions {
  /** Number of stratified folds (5). */
  folds?: number;
  /** Seed of the fold assignment (1). */
  seed?: number;
}

/** Result of `crossValidate()`: scores of the out-of-fold predictions and training time. */
export interface CrossValidation {
  report: ClassificationReport;
  /** Wall time of training all folds, seconds. */
  trainSeconds: number;
}

/**
 * Stratified k-fold cross-validation: trains `train` on k−1 folds, predicts the held-out fold,
 * and scores all out-of-fold predictions together.
 */
export function crossValidate(
  data: Dataset,
  train: (rows: TrafficRows, fold: number) => Predictor,
  options: CrossValidateOptions = {},
): CrossValidation {
  const k = options.folds ?? 5;
  const fold = stratifiedFolds(data.y, k, options.seed ?? 1);
  const width = data.x.length / Math.max(data.rows, 1);
  const K = data.classes.length;
  const predicted = new Int32Array(data.rows);
  const out = new Float64Array(K);
  let trainMs = 0;
  for (let f = 0; f < k; f++) {
    const rows: number[] = [];
    for (let i = 0; i < data.rows; i++) if (fold[i] !== f) rows.push(i);
    const x = new Float64Array(rows.length * width);
    const y = new Int32Array(rows.length);
    rows.forEach((r, i) => {
      x.set(data.x.subarray(r * width, (r + 1) * width), i * width);
      y[i] = data.y[r]!;
    });
    const started = performance.now();
    const predict = train({ x, y, rows: rows.length, classes: data.classes }, f);
    trainMs += performance.now() - started;
    for (let i = 0; i < data.rows; i++) {
      if (fold[i] !== f) continue;
      predict(data.x, i * width, out);
      let best = 0;
      for (let c = 1; c < K; c++) if (out[c]! > out[best]!) best = c;
      predicted[i] = best;
    }
  }
  return {
    report: classificationReport(data.y, predicted, data.classes),
    trainSeconds: trainMs / 1000,
  };
}
