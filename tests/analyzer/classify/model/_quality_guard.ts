import { datasetDir, datasetFiles } from "../../../../src/analyzer/classify/model/dataset_dir.ts";
import { labelReport } from "../../../../src/analyzer/classify/model/label_report.ts";
import {
  type Dataset,
  parseDataset,
} from "../../../../src/analyzer/classify/model/parse_dataset.ts";
import { stratifiedFolds } from "../../../../src/analyzer/classify/model/stratified_folds.ts";
import { timeoutFromName } from "../../../../src/analyzer/classify/model/train_model_set.ts";
import type { TrafficModel } from "../../../../src/analyzer/classify/model/traffic_model.ts";
import type { ModelSet } from "../../../../src/analyzer/classify/model/model_set.ts";

/**
 * The fixed held-out part of each ISCX file: fold 0 of the stratified 5-fold split with seed 1
 * (`stratifiedFolds(y, 5, 1)`), the first fold `qts model eval --cv 5` scores. About 20 % of the
 * rows, every class spread evenly.
 */
export interface Split {
  file: string;
  /** The held-out rows (fold 0). */
  test: Dataset;
  /** The other rows. */
  train: Dataset;
}

function subset(data: Dataset, keep: (row: number) => boolean, source: string): Dataset {
  const rows: number[] = [];
  for (let r = 0; r < data.rows; r++) if (keep(r)) rows.push(r);
  const x = new Float64Array(rows.length * 23);
  const y = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    x.set(data.x.subarray(r * 23, r * 23 + 23), i * 23);
    y[i] = data.y[r]!;
  });
  return { source, classes: data.classes, x, y, rows: rows.length };
}

/** The four files split into training part and the fixed held-out part, or undefined if absent. */
export function loadSplits(): Split[] | undefined {
  const dir = datasetDir();
  try {
    return datasetFiles.map((file) => {
      const data = parseDataset(Deno.readTextFileSync(`${dir}${file}`), file);
      const fold = stratifiedFolds(data.y, 5, 1);
      return {
        file,
        test: subset(data, (r) => fold[r] === 0, file),
        train: subset(data, (r) => fold[r] !== 0, file),
      };
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Macro-F1 and accuracy of `model` on `data`, predicting among the file's classes only. */
export function scoreModel(
  model: TrafficModel,
  data: Dataset,
): { macroF1: number; accuracy: number } {
  const map = data.classes.map((name) => model.classes.indexOf(name));
  const out = new Float64Array(model.classes.length);
  const truth: string[] = [], predicted: string[] = [];
  for (let r = 0; r < data.rows; r++) {
    model.proba(data.x, r * 23, out);
    let best = 0;
    for (let c = 1; c < map.length; c++) {
      if ((out[map[c]!] ?? -1) > (out[map[best]!] ?? -1)) best = c;
    }
    truth.push(data.classes[data.y[r]!]!);
    predicted.push(data.classes[best]!);
  }
  const report = labelReport(truth, predicted, data.classes);
  return { macroF1: report.macro_f1, accuracy: report.accuracy };
}

/**
 * The quality guard: scores each file's held-out part with the set's model for the file's
 * timeout and returns one line per file under its macro-F1 floor (empty: the set passes).
 */
export function qualityFailures(
  set: ModelSet,
  splits: readonly Split[],
  floors: Readonly<Record<string, number>>,
  scores: Record<string, number> = {},
): string[] {
  const failures: string[] = [];
  for (const split of splits) {
    const model = set.pick(timeoutFromName(split.file));
    const { macroF1 } = scoreModel(model, split.test);
    scores[split.file] = macroF1;
    const floor = floors[split.file];
    if (floor === undefined) throw new RangeError(`No macro-F1 floor for ${split.file}`);
    if (!(macroF1 >= floor)) {
      failures.push(`${split.file}: macro-F1 ${macroF1.toFixed(4)} < floor ${floor}`);
    }
  }
  return failures;
}
