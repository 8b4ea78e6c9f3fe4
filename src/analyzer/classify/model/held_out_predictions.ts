import { featureNames } from "./feature_names.ts";
import type { Dataset } from "./parse_dataset.ts";
import { stratifiedFolds } from "./stratified_folds.ts";
import { mergeDatasets, timeoutFromName } from "./train_model_set.ts";
import { TrafficModel, type TrafficRows } from "./traffic_model.ts";

/** Out-of-fold predictions for one file of `heldOutPredictions()`. */
export interface HeldOutFile {
  data: Dataset;
  /** Classes of the model that predicted the rows (the union over the file's timeout group). */
  classes: readonly string[];
  /** `data.rows × classes.length` probabilities, each row predicted by a model that never saw it. */
  proba: Float64Array;
  /**
   * The fold each row was held out in; fold f's model was trained on the rows of the file's
   * timeout group whose fold is not f.
   */
  fold: Int32Array;
}

/** Options of `heldOutPredictions()`. */
export interface HeldOutOptions {
  /** Stratified folds per file (5). */
  folds?: number;
  /** Seed of the fold assignment and of training (1). */
  seed?: number;
  /** Called before each model is trained, for progress output. */
  onFold?: (timeout: number | null, fold: number, rows: number) => void;
  /** Trains the model of one fold (default: the shipped algorithm, `TrafficModel.train`). */
  train?: (rows: TrafficRows, seed: number) => TrafficModel;
}

/**
 * Cross-validates the shipped layout: files are grouped by the flow timeout in their names (as
 * `trainModelSet({ perTimeout: true })` does), each file is split into stratified folds (the
 * same folds `crossValidate()` uses for that file), and for fold f one model over the group's
 * classes is trained on every file's other folds and predicts every file's fold f.
 */
export function heldOutPredictions(
  datasets: readonly Dataset[],
  options: HeldOutOptions = {},
): HeldOutFile[] {
  const k = options.folds ?? 5;
  const seed = options.seed ?? 1;
  const train = options.train ?? ((rows, s) => TrafficModel.train(rows, { seed: s }));
  const groups = new Map<number | null, Dataset[]>();
  for (const d of datasets) {
    const key = timeoutFromName(d.source);
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const results = new Map<Dataset, HeldOutFile>();
  const W = featureNames.length;
  for (const [timeout, group] of groups) {
    const merged = mergeDatasets(group);
    const K = merged.classes.length;
    const folds = group.map((d) => stratifiedFolds(d.y, k, seed));
    const files = group.map((d, i) => ({
      data: d,
      classes: merged.classes,
      proba: new Float64Array(d.rows * K),
      fold: folds[i]!,
    }));
    for (let f = 0; f < k; f++) {
      const picked: number[] = [];
      let offset = 0;
      group.forEach((d, i) => {
        for (let r = 0; r < d.rows; r++) if (folds[i]![r] !== f) picked.push(offset + r);
        offset += d.rows;
      });
      const x = new Float64Array(picked.length * W);
      const y = new Int32Array(picked.length);
      picked.forEach((r, i) => {
        x.set(merged.x.subarray(r * W, (r + 1) * W), i * W);
        y[i] = merged.y[r]!;
      });
      const rows: TrafficRows = { x, y, rows: picked.length, classes: merged.classes };
      options.onFold?.(timeout, f, rows.rows);
      const model = train(rows, seed);
      for (const file of files) {
        const out = new Float64Array(K);
        for (let r = 0; r < file.data.rows; r++) {
          if (file.fold[r] !== f) continue;
          model.proba(file.data.x, r * W, out);
          file.proba.set(out, r * K);
        }
      }
    }
    files.forEach((file) => results.set(file.data, file));
  }
  return datasets.map((d) => results.get(d)!);
}
