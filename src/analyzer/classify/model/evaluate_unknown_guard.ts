import { calibrationError } from "./calibration_error.ts";
import type { ClassificationReport } from "./classification_report.ts";
import { featureNames } from "./feature_names.ts";
import { fitUnknownGuard, type FitUnknownGuardOptions } from "./fit_unknown_guard.ts";
import type { HeldOutFile } from "./held_out_predictions.ts";
import { labelReport } from "./label_report.ts";
import { timeoutFromName } from "./train_model_set.ts";
import { UNKNOWN_LABEL, type UnknownGuard } from "./unknown_guard.ts";

/** Held-out scores of one file with and without the unknown guard. */
export interface UnknownGuardReport {
  file: string;
  rows: number;
  /** The model's top class for every row (all of the model's classes, as the analyzer sees). */
  closed: ClassificationReport;
  /** With `unknown` below the threshold or out of range; `unknown` counts as a miss. */
  open: ClassificationReport;
  /** The rows not `unknown` only. */
  covered: ClassificationReport;
  /** Share of rows not `unknown`. */
  coverage: number;
  /** Rows made `unknown`, by reason. */
  unknown: Record<string, number>;
  /** Expected calibration error of the top-class confidence, raw and temperature-scaled. */
  ece: { raw: number; calibrated: number };
}

/** Coverage and accuracy of the covered rows at one threshold, all files pooled. */
export interface ThresholdPoint {
  threshold: number;
  coverage: number;
  accuracy: number;
  /** Accuracy of the rows this threshold makes `unknown` (by confidence). */
  rejectedAccuracy: number;
}

/** Result of `evaluateUnknownGuard()`. */
export interface UnknownGuardEvaluation {
  files: UnknownGuardReport[];
  /** Coverage/accuracy trade-off (range check applied throughout). */
  sweep: ThresholdPoint[];
}

/**
 * Scores the unknown guard on held-out predictions, cross-fitted: the rows of fold f are judged
 * by a guard fitted without fold f (`fitUnknownGuard({ exceptFold: f })`), so neither the
 * temperature nor the ranges saw them. The threshold is the options' (0.5 by default).
 */
export function evaluateUnknownGuard(
  heldOut: readonly HeldOutFile[],
  options: FitUnknownGuardOptions & { sweep?: readonly number[] } = {},
): UnknownGuardEvaluation {
  let folds = 0;
  for (const file of heldOut) for (const f of file.fold) folds = Math.max(folds, f + 1);
  const guards: UnknownGuard[] = [];
  for (let f = 0; f < folds; f++) {
    guards.push(fitUnknownGuard(heldOut, { ...options, exceptFold: f }));
  }
  const W = featureNames.length;
  const sweep = options.sweep ?? [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  const pooled: { confidence: number; correct: boolean; inRange: boolean }[] = [];
  const files = heldOut.map((file): UnknownGuardReport => {
    const K = file.classes.length;
    const truth: string[] = [], guesses: string[] = [], labels: string[] = [];
    const raw: number[] = [], calibrated: number[] = [], correct: boolean[] = [];
    const unknown: Record<string, number> = {};
    const scratch = new Float64Array(K);
    const probs = new Float64Array(K);
    for (let r = 0; r < file.data.rows; r++) {
      const guard = guards[file.fold[r]!]!;
      const timeout = timeoutFromName(file.data.source);
      const member = guard.members.find((m) =>
        m.timeout === timeout && m.classes.join() === file.classes.join()
      );
      const p = file.proba.subarray(r * K, (r + 1) * K);
      const verdict = guard.decide(member, file.classes, p, file.data.x, r * W, scratch);
      const name = file.data.classes[file.data.y[r]!]!;
      truth.push(name);
      guesses.push(verdict.guess);
      labels.push(verdict.label);
      if (verdict.reason !== undefined) {
        unknown[verdict.reason] = (unknown[verdict.reason] ?? 0) + 1;
      }
      probs.set(p);
      raw.push(Math.max(...probs));
      calibrated.push(verdict.confidence);
      correct.push(verdict.guess === name);
      pooled.push({
        confidence: verdict.confidence,
        correct: verdict.guess === name,
        inRange: verdict.reason !== "features",
      });
    }
    const covered = labels.map((l) => l !== UNKNOWN_LABEL);
    const pick = <T>(list: T[]) => list.filter((_, i) => covered[i]);
    return {
      file: file.data.source.split(/[\\/]/).pop() ?? file.data.source,
      rows: file.data.rows,
      closed: labelReport(truth, guesses, file.data.classes),
      open: labelReport(truth, labels, file.data.classes),
      covered: labelReport(pick(truth), pick(labels), file.data.classes),
      coverage: covered.filter(Boolean).length / Math.max(file.data.rows, 1),
      unknown,
      ece: {
        raw: calibrationError(raw, correct),
        calibrated: calibrationError(calibrated, correct),
      },
    };
  });
  const points = sweep.map((threshold): ThresholdPoint => {
    let kept = 0, keptRight = 0, dropped = 0, droppedRight = 0;
    for (const row of pooled) {
      if (row.inRange && row.confidence >= threshold) {
        kept++;
        if (row.correct) keptRight++;
      } else if (row.inRange) {
        dropped++;
        if (row.correct) droppedRight++;
      }
    }
    return {
      threshold,
      coverage: kept / Math.max(pooled.length, 1),
      accuracy: keptRight / Math.max(kept, 1),
      rejectedAccuracy: droppedRight / Math.max(dropped, 1),
    };
  });
  return { files, sweep: points };
}
