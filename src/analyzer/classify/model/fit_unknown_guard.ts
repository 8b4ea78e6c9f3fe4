import { featureRanges } from "./feature_ranges.ts";
import { featureNames } from "./feature_names.ts";
import { fitTemperature } from "./fit_temperature.ts";
import type { HeldOutFile } from "./held_out_predictions.ts";
import { timeoutFromName } from "./train_model_set.ts";
import { type GuardMemberJson, UnknownGuard } from "./unknown_guard.ts";

/** Options of `fitUnknownGuard()`. */
export interface FitUnknownGuardOptions {
  /** Calibrated confidence below which a flow is `unknown` (0.5: more likely wrong than right). */
  threshold?: number;
  /** Columns out of range that make a flow `unknown` (2). */
  minOutOfRange?: number;
  /** Quantile of the training ranges (0.005), see `featureRanges()`. */
  quantile?: number;
  /** Widening of the training ranges (0.1), see `featureRanges()`. */
  margin?: number;
  /**
   * Fit without this fold: the temperature on the other folds' predictions and the ranges on
   * the other folds' rows (what that fold's model was trained on), so the guard can be scored
   * on that fold.
   */
  exceptFold?: number;
  note?: string;
  figures?: Record<string, unknown>;
}

/**
 * Fits the unknown guard of a model set from held-out predictions of its layout
 * (`heldOutPredictions()`): per timeout group, the temperature minimising the held-out
 * log-loss and the training ranges of every model column over the group's rows (all of them,
 * what the shipped model was trained on, unless `exceptFold` leaves one fold out).
 */
export function fitUnknownGuard(
  heldOut: readonly HeldOutFile[],
  options: FitUnknownGuardOptions = {},
): UnknownGuard {
  // One member per model: the files of one flow timeout (same classes, same fold models).
  const groups = new Map<string, HeldOutFile[]>();
  for (const file of heldOut) {
    const key = `${timeoutFromName(file.data.source)}|${file.classes.join()}`;
    groups.set(key, [...(groups.get(key) ?? []), file]);
  }
  const W = featureNames.length;
  const members: GuardMemberJson[] = [];
  for (const files of groups.values()) {
    const classes = files[0]!.classes;
    const K = classes.length;
    const keep = (file: HeldOutFile, r: number) => file.fold[r] !== options.exceptFold;
    const rows = files.reduce((n, f) => n + f.data.rows, 0);
    const proba = new Float64Array(rows * K);
    const y = new Int32Array(rows);
    const x = new Float64Array(rows * W);
    let n = 0;
    for (const file of files) {
      for (let r = 0; r < file.data.rows; r++) {
        if (!keep(file, r)) continue;
        proba.set(file.proba.subarray(r * K, (r + 1) * K), n * K);
        y[n] = classes.indexOf(file.data.classes[file.data.y[r]!]!);
        x.set(file.data.x.subarray(r * W, (r + 1) * W), n * W);
        n++;
      }
    }
    const temperature = fitTemperature(proba.subarray(0, n * K), y.subarray(0, n), K);
    const ranges = featureRanges(x.subarray(0, n * W), n, {
      quantile: options.quantile ?? 0.005,
      margin: options.margin ?? 0.1,
    });
    members.push({
      timeout: timeoutFromName(files[0]!.data.source),
      classes: [...classes],
      temperature: Number(temperature.toFixed(4)),
      ...ranges,
    });
  }
  return new UnknownGuard({
    note: options.note ?? "",
    threshold: options.threshold ?? 0.5,
    minOutOfRange: options.minOutOfRange ?? 2,
    members,
    ...(options.figures !== undefined ? { figures: options.figures } : {}),
  });
}
