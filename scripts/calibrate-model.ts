/**
 * Fits the unknown guard of the shipped traffic model, src/analyzer/classify/model/
 * iscx_calibration.json: stratified 5-fold CV of the shipped layout (one 14-class model per flow
 * timeout, seed 1, the folds `qts model eval --cv 5` uses per file) gives held-out class
 * probabilities; on them, a temperature per model (minimum log-loss) and, on the training rows,
 * robust ranges of every model column. The threshold is fixed (0.5, see the model README);
 * the held-out figures, cross-fitted per fold, are printed and stored with the guard.
 *
 *   deno run --allow-read --allow-write scripts/calibrate-model.ts [--data <dir>]
 *     [--cache <file>]   keep the held-out predictions there (training them takes minutes)
 */
import { parseArgs } from "node:util";
import { datasetDir, datasetFiles } from "../src/analyzer/classify/model/dataset_dir.ts";
import { evaluateUnknownGuard } from "../src/analyzer/classify/model/evaluate_unknown_guard.ts";
import { fitUnknownGuard } from "../src/analyzer/classify/model/fit_unknown_guard.ts";
import {
  type HeldOutFile,
  heldOutPredictions,
} from "../src/analyzer/classify/model/held_out_predictions.ts";
import { parseDataset } from "../src/analyzer/classify/model/parse_dataset.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { data: { type: "string" }, out: { type: "string" }, cache: { type: "string" } },
});
let dir = values.data ?? datasetDir();
if (!dir.endsWith("/")) dir += "/";
const out = values.out ??
  new URL("../src/analyzer/classify/model/iscx_calibration.json", import.meta.url).pathname;
const datasets = datasetFiles.map((file) =>
  parseDataset(Deno.readTextFileSync(`${dir}${file}`), file)
);

interface Cached {
  classes: string[];
  proba: number[];
  fold: number[];
}

function load(path: string): HeldOutFile[] | undefined {
  let cached: Cached[];
  try {
    cached = JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return undefined;
  }
  return datasets.map((data, i) => {
    const c = cached[i]!;
    return {
      data,
      classes: c.classes,
      proba: Float64Array.from(c.proba),
      fold: Int32Array.from(c.fold),
    };
  });
}

const started = performance.now();
let heldOut = values.cache ? load(values.cache) : undefined;
if (!heldOut) {
  heldOut = heldOutPredictions(datasets, {
    onFold: (timeout, fold, rows) =>
      console.log(`training the ${timeout}s model of fold ${fold + 1}/5 on ${rows} rows`),
  });
  if (values.cache) {
    const cached: Cached[] = heldOut.map((f) => ({
      classes: [...f.classes],
      proba: [...f.proba],
      fold: [...f.fold],
    }));
    Deno.writeTextFileSync(values.cache, JSON.stringify(cached));
  }
}
const evaluation = evaluateUnknownGuard(heldOut);
const round = (v: number) => Number(v.toFixed(4));
const figures = {
  method: "stratified 5-fold CV per file, seed 1, shipped layout; guard cross-fitted per fold",
  files: evaluation.files.map((r) => ({
    file: r.file,
    rows: r.rows,
    macro_f1: round(r.closed.macro_f1),
    accuracy: round(r.closed.accuracy),
    coverage: round(r.coverage),
    covered_macro_f1: round(r.covered.macro_f1),
    covered_accuracy: round(r.covered.accuracy),
    open_macro_f1: round(r.open.macro_f1),
    open_accuracy: round(r.open.accuracy),
    ece_raw: round(r.ece.raw),
    ece_calibrated: round(r.ece.calibrated),
    unknown: r.unknown,
  })),
  sweep: evaluation.sweep.map((p) => ({
    threshold: p.threshold,
    coverage: round(p.coverage),
    accuracy: round(p.accuracy),
    rejected_accuracy: round(p.rejectedAccuracy),
  })),
};
const guard = fitUnknownGuard(heldOut, {
  note: "temperature per model fitted on 5-fold held-out predictions of the shipped layout " +
    "(seed 1); ranges: 0.5-99.5 % quantiles of the training rows on a signed log scale, " +
    "widened by 10 % of the span; made by scripts/calibrate-model.ts",
  figures,
});
const json = guard.toJSON();
Deno.writeTextFileSync(out, JSON.stringify(json, null, 2) + "\n");
for (const f of figures.files) console.log(JSON.stringify(f));
for (const p of figures.sweep) console.log(JSON.stringify(p));
for (const m of json.members) console.log(`${m.timeout}s: temperature ${m.temperature}`);
console.log(`wrote ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
