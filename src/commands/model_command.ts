import { parseCommandLine } from "./parse_command_line.ts";
import type { ClassificationReport } from "../analyzer/classify/model/classification_report.ts";
import { classificationReport } from "../analyzer/classify/model/classification_report.ts";
import { builtinModels } from "../analyzer/classify/model/classify_flow.ts";
import { crossValidate } from "../analyzer/classify/model/cross_validate.ts";
import { datasetDir, datasetFiles } from "../analyzer/classify/model/dataset_dir.ts";
import { ModelSet } from "../analyzer/classify/model/model_set.ts";
import { type Dataset, parseDataset } from "../analyzer/classify/model/parse_dataset.ts";
import { forestProba, trainForest } from "../analyzer/classify/model/train_forest.ts";
import { timeoutFromName, trainModelSet } from "../analyzer/classify/model/train_model_set.ts";
import { TrafficModel } from "../analyzer/classify/model/traffic_model.ts";
import {
  evaluateUnknownGuard,
  type UnknownGuardReport,
} from "../analyzer/classify/model/evaluate_unknown_guard.ts";
import { heldOutPredictions } from "../analyzer/classify/model/held_out_predictions.ts";
import { labelReport } from "../analyzer/classify/model/label_report.ts";
import { builtinGuard } from "../analyzer/classify/model/recognize_flow.ts";
import type { UnknownGuard } from "../analyzer/classify/model/unknown_guard.ts";

const usage = `qts model — the time-feature traffic classifier (ISCX VPN-nonVPN classes)

Usage:
  qts model train [--data <arff|csv>]… --out <model.json> [--per-timeout] [--seed <n>]
  qts model eval  [--data <arff|csv>]… [--model <model.json>|builtin] [--cv <k>]
                  [--baseline rf] [--timeout <s>] [--seed <n>] [--json]
  qts model eval  --unknown [--data <arff|csv>]… [--cv <k>] [--seed <n>] [--json]

train   Trains the shipped algorithm (softmax gradient-boosted trees on the 23 ISCX time
        features plus derived counts and ratios) and writes a model set.
        --per-timeout  one model per flow timeout named in the file names (15s-…, 120s-…),
                       each over all classes of its files; otherwise one model for all.
eval    Scores a model on labelled files, one report per file.
        Without --cv: the model of --model (default: the built-in one; for each file the
        member nearest the file's flow timeout, from its name or --timeout), predictions
        restricted to the classes the file declares.
        --cv <k>       stratified k-fold cross-validation on each file instead: trains the
                       shipped algorithm with its shipped hyperparameters on each fold.
        --baseline rf  with --cv, also a plain random forest (200 trees, √features,
                       bootstrap, Gini, fully grown) on the raw 23 features, side by side.
        --json         one JSON object per file: {"accuracy","macro_f1","per_class"}
                       (several files or a baseline: one line each, with "file"/"baseline").
        With the built-in model, also the flows the analyzer would call "unknown" (the
        shipped threshold on the calibrated confidence, and the training ranges): coverage,
        accuracy and macro-F1 with "unknown" counted as a miss, and on the covered rows.
        --unknown      held-out figures of the unknown guard: k-fold CV (--cv, default 5) of
                       the shipped layout (one model per flow timeout over its files' classes),
                       temperature and ranges fitted without the scored fold, the shipped
                       threshold; macro-F1/accuracy without and with "unknown", coverage,
                       calibration error (ECE) before/after, a coverage/accuracy sweep.

--data defaults to the four files in ../shared/datasets/iscx-vpn2016-time/.
`;

function fail(message: string): number {
  console.error(`qts model: ${message}`);
  return 2;
}

async function loadFiles(paths: readonly string[]): Promise<Dataset[]> {
  const out: Dataset[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      throw new TypeError(`Cannot read dataset ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    out.push(parseDataset(text, path));
  }
  return out;
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function formatLine(label: string, report: ClassificationReport, seconds?: number): string {
  const time = seconds === undefined ? "" : `  train ${seconds.toFixed(1)} s`;
  return `  ${label.padEnd(26)} macro-F1 ${report.macro_f1.toFixed(4)}  accuracy ${
    report.accuracy.toFixed(4)
  }${time}`;
}

function perClassLine(report: ClassificationReport): string {
  return "    F1: " +
    Object.entries(report.per_class).map(([name, s]) => `${name} ${s.f1.toFixed(3)}`).join(", ");
}

/** Scores a fixed model on a file, predicting only among the classes the file declares. */
function evaluateModel(model: TrafficModel, data: Dataset): ClassificationReport {
  const map = data.classes.map((name) => model.classes.indexOf(name));
  const predicted = new Int32Array(data.rows);
  const out = new Float64Array(model.classes.length);
  const width = data.x.length / Math.max(data.rows, 1);
  for (let i = 0; i < data.rows; i++) {
    model.proba(data.x, i * width, out);
    let best = -1, bestP = -Infinity;
    for (let c = 0; c < map.length; c++) {
      const m = map[c]!;
      if (m >= 0 && out[m]! > bestP) {
        bestP = out[m]!;
        best = c;
      }
    }
    predicted[i] = Math.max(best, 0);
  }
  return classificationReport(data.y, predicted, data.classes);
}

/** Scores at the guard's threshold, as the analyzer labels: "unknown" is a miss. */
interface GuardedScores {
  threshold: number;
  coverage: number;
  accuracy: number;
  macro_f1: number;
  covered_accuracy: number;
  covered_macro_f1: number;
}

/** What the analyzer would label each row (all the model's classes, or "unknown"). */
function evaluateGuarded(
  model: TrafficModel,
  guard: UnknownGuard,
  data: Dataset,
): GuardedScores | undefined {
  if (guard.member(model) === undefined) return undefined;
  const out = new Float64Array(model.classes.length);
  const width = data.x.length / Math.max(data.rows, 1);
  const truth: string[] = [], labels: string[] = [];
  for (let i = 0; i < data.rows; i++) {
    model.proba(data.x, i * width, out);
    truth.push(data.classes[data.y[i]!]!);
    labels.push(guard.judge(model, out, data.x, i * width).label);
  }
  const kept = labels.map((l) => l !== "unknown");
  const pick = (list: string[]) => list.filter((_, i) => kept[i]);
  const open = labelReport(truth, labels, data.classes);
  const covered = labelReport(pick(truth), pick(labels), data.classes);
  return {
    threshold: guard.threshold,
    coverage: kept.filter(Boolean).length / Math.max(data.rows, 1),
    accuracy: open.accuracy,
    macro_f1: open.macro_f1,
    covered_accuracy: covered.accuracy,
    covered_macro_f1: covered.macro_f1,
  };
}

function guardedLine(g: GuardedScores): string {
  return `  with "unknown" below ${g.threshold}: coverage ${g.coverage.toFixed(4)}  macro-F1 ${
    g.macro_f1.toFixed(4)
  }  accuracy ${g.accuracy.toFixed(4)}  (covered rows: macro-F1 ${
    g.covered_macro_f1.toFixed(4)
  }  accuracy ${g.covered_accuracy.toFixed(4)})`;
}

/** `qts model eval --unknown`: held-out figures of the shipped layout with the unknown guard. */
async function evaluateUnknown(values: Values, folds: number, seed: number): Promise<number> {
  const datasets = await loadFiles(values.data ?? defaultData());
  const started = performance.now();
  const heldOut = heldOutPredictions(datasets, {
    folds,
    seed,
    onFold: (timeout, fold, rows) =>
      console.error(
        `training the ${timeout === null ? "" : `${timeout}s `}model of fold ${
          fold + 1
        }/${folds} on ${rows} rows`,
      ),
  });
  const { threshold, minOutOfRange } = builtinGuard();
  const result = evaluateUnknownGuard(heldOut, { threshold, minOutOfRange });
  const row = (r: UnknownGuardReport) => ({
    file: r.file,
    rows: r.rows,
    threshold,
    macro_f1: r.closed.macro_f1,
    accuracy: r.closed.accuracy,
    coverage: r.coverage,
    open_macro_f1: r.open.macro_f1,
    open_accuracy: r.open.accuracy,
    covered_macro_f1: r.covered.macro_f1,
    covered_accuracy: r.covered.accuracy,
    ece_raw: r.ece.raw,
    ece_calibrated: r.ece.calibrated,
    unknown: r.unknown,
  });
  if (values.json) {
    for (const r of result.files) console.log(JSON.stringify(row(r)));
    console.log(JSON.stringify({ sweep: result.sweep }));
    return 0;
  }
  const f = (v: number) => v.toFixed(4);
  for (const r of result.files) {
    console.log(
      `${r.file} (${r.rows} rows), stratified ${folds}-fold CV of the shipped layout, ` +
        `threshold ${threshold}`,
    );
    console.log(
      `  without "unknown"  macro-F1 ${f(r.closed.macro_f1)}  accuracy ${f(r.closed.accuracy)}`,
    );
    console.log(
      `  with "unknown"     macro-F1 ${f(r.open.macro_f1)}  accuracy ${f(r.open.accuracy)}  ` +
        `coverage ${f(r.coverage)}`,
    );
    console.log(
      `  covered rows       macro-F1 ${f(r.covered.macro_f1)}  accuracy ${f(r.covered.accuracy)}`,
    );
    const reasons = Object.entries(r.unknown).map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(
      `  ECE ${f(r.ece.raw)} raw → ${f(r.ece.calibrated)} calibrated; unknown: ${
        reasons || "none"
      }`,
    );
  }
  console.log("threshold  coverage  accuracy  rejected-accuracy (all files, in range)");
  for (const p of result.sweep) {
    console.log(
      `${p.threshold.toFixed(2).padStart(9)}  ${f(p.coverage)}    ${f(p.accuracy)}    ${
        f(p.rejectedAccuracy)
      }`,
    );
  }
  console.error(`${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

/**
 * Guesses the flow timeout of unnamed data: in the ISCX files at most 3 % of 15 s flows last over
 * 16 s (the tool did not always cut them) but over 40 % of 120 s flows do.
 */
function timeoutFromRows(data: Dataset): number {
  const width = data.x.length / Math.max(data.rows, 1);
  let long = 0;
  for (let i = 0; i < data.rows; i++) if (data.x[i * width]! > 16e6) long++;
  return long > 0.15 * data.rows ? 120 : 15;
}

function pickMember(set: ModelSet, data: Dataset, timeout: number | null): TrafficModel {
  const wanted = timeout ?? timeoutFromName(data.source) ?? timeoutFromRows(data);
  const covering = set.models.filter((m) => data.classes.every((c) => m.classes.includes(c)));
  const pool = covering.length > 0 ? new ModelSet(covering) : set;
  return pool.pick(wanted);
}

async function train(values: Values): Promise<number> {
  if (!values.out) return fail("train needs --out <model.json>");
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed)) return fail(`--seed "${values.seed}" is not an integer`);
  const datasets = await loadFiles(values.data ?? defaultData());
  const started = performance.now();
  const set = trainModelSet(datasets, {
    perTimeout: values["per-timeout"] === true,
    seed,
    onModel: (timeout, names, rows) =>
      console.error(
        `training ${timeout === null ? "" : `${timeout}s `}model on ${
          names.join(", ")
        } (${rows} rows)`,
      ),
  });
  const text = JSON.stringify(set.toJSON());
  await Deno.writeTextFile(values.out, text + "\n");
  console.log(
    `wrote ${values.out}: ${set.models.length} model(s), ${(text.length / 1024).toFixed(0)} KiB, ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  return 0;
}

async function evaluate(values: Values): Promise<number> {
  const cv = values.cv === undefined ? 0 : Number(values.cv);
  if (values.cv !== undefined && (!Number.isInteger(cv) || cv < 2)) {
    return fail(`--cv "${values.cv}" must be an integer ≥ 2`);
  }
  if (values.baseline !== undefined && values.baseline !== "rf") {
    return fail(`--baseline "${values.baseline}" is unknown (only "rf")`);
  }
  if (values.baseline !== undefined && cv === 0) return fail("--baseline needs --cv <k>");
  if (values.unknown) {
    if (values.model !== undefined || values.baseline !== undefined) {
      return fail("--unknown trains the shipped layout; drop --model and --baseline");
    }
    const seed = values.seed === undefined ? 1 : Number(values.seed);
    if (!Number.isInteger(seed)) return fail(`--seed "${values.seed}" is not an integer`);
    return await evaluateUnknown(values, cv === 0 ? 5 : cv, seed);
  }
  if (cv > 0 && values.model !== undefined) return fail("--cv trains its own models; drop --model");
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed)) return fail(`--seed "${values.seed}" is not an integer`);
  const timeout = values.timeout === undefined ? null : Number(values.timeout);
  if (timeout !== null && !(timeout > 0)) return fail(`--timeout "${values.timeout}" is not > 0`);
  let set: ModelSet | undefined;
  if (cv === 0) {
    if (values.model === undefined || values.model === "builtin") set = builtinModels();
    else {
      let json: unknown;
      try {
        json = JSON.parse(await Deno.readTextFile(values.model));
      } catch (error) {
        throw new SyntaxError(`Cannot load model ${values.model}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      set = ModelSet.fromJSON(json, values.model);
    }
  }
  const paths = values.data ?? defaultData();
  const datasets = await loadFiles(paths);
  const lines: string[] = [];
  for (const data of datasets) {
    const name = baseName(data.source);
    let report: ClassificationReport;
    let guarded: GuardedScores | undefined;
    let baseline: ClassificationReport | undefined;
    if (set) {
      const model = pickMember(set, data, timeout);
      report = evaluateModel(model, data);
      guarded = evaluateGuarded(model, builtinGuard(), data);
      if (model.trainedOn.includes(name)) {
        console.error(
          `note: the model was trained on a file named ${name}; if these are those rows, the ` +
            `scores are not a held-out estimate (use --cv 5)`,
        );
      }
      if (!values.json) {
        console.log(
          `${name} (${data.rows} rows): model ${model.timeout ?? "?"}s [${
            model.trainedOn.join(", ")
          }]`,
        );
        console.log(formatLine("model", report));
        if (guarded) console.log(guardedLine(guarded));
        console.log(perClassLine(report));
      }
    } else {
      const result = crossValidate(data, (rows) => {
        const model = TrafficModel.train(rows, { seed });
        return (x, base, out) => model.proba(x, base, out);
      }, { folds: cv, seed });
      report = result.report;
      let rf: ReturnType<typeof crossValidate> | undefined;
      if (values.baseline === "rf") {
        rf = crossValidate(data, (rows) => {
          const forest = trainForest(
            { x: rows.x, y: rows.y, width: 23, classes: rows.classes.length },
            { trees: 200, seed },
          );
          return (x, base, out) => forestProba(forest, x, base, out);
        }, { folds: cv, seed });
        baseline = rf.report;
      }
      if (!values.json) {
        console.log(`${name} (${data.rows} rows), stratified ${cv}-fold CV`);
        console.log(formatLine("gbdt (shipped algorithm)", report, result.trainSeconds));
        if (rf) {
          console.log(formatLine("rf-200 baseline", rf.report, rf.trainSeconds));
          console.log(
            `  Δ macro-F1 ${(report.macro_f1 - rf.report.macro_f1 >= 0 ? "+" : "")}${
              (report.macro_f1 - rf.report.macro_f1).toFixed(4)
            }`,
          );
        }
        console.log(perClassLine(report));
      }
    }
    if (values.json) {
      const extra = guarded ? { unknown_guard: guarded } : {};
      if (datasets.length === 1 && !baseline) lines.push(JSON.stringify({ ...report, ...extra }));
      else {
        lines.push(
          JSON.stringify({ file: name, ...report, ...extra, ...(baseline ? { baseline } : {}) }),
        );
      }
    }
  }
  for (const line of lines) console.log(line);
  return 0;
}

function defaultData(): string[] {
  const dir = datasetDir();
  return datasetFiles.map((file) => `${dir}${file}`);
}

interface Values {
  data?: string[];
  out?: string;
  model?: string;
  cv?: string;
  baseline?: string;
  timeout?: string;
  seed?: string;
  json?: boolean;
  unknown?: boolean;
  "per-timeout"?: boolean;
  help?: boolean;
}

/**
 * `qts model train|eval` (`args` are the words after `qts model`): trains the time-feature traffic classifier or scores it (fixed model
 * or k-fold cross-validation, optionally against a 200-tree random forest). Returns the exit code.
 */
export async function modelCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("model", usage, args, {
    data: { type: "string", multiple: true },
    out: { type: "string" },
    model: { type: "string" },
    cv: { type: "string" },
    baseline: { type: "string" },
    timeout: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
    unknown: { type: "boolean" },
    "per-timeout": { type: "boolean" },
  }, { positionals: true });
  if (typeof parsed === "number") return parsed;
  const values = parsed.values as Values;
  const [sub, ...rest] = parsed.positionals;
  if (sub === "help") {
    console.log(usage);
    return 0;
  }
  // Extra positionals are taken as data files, so `qts model eval a.arff b.arff` works too.
  if (rest.length > 0) values.data = [...(values.data ?? []), ...rest];
  try {
    if (sub === "train") return await train(values);
    if (sub === "eval") return await evaluate(values);
  } catch (error) {
    console.error(`qts model ${sub}: ${(error as Error).message}`);
    return 1;
  }
  return fail(sub === undefined ? `missing subcommand\n\n${usage}` : `unknown subcommand "${sub}"`);
}
