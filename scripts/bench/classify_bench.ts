/**
 * `deno task bench classify`: flows/s of the shipped traffic model per timeout — one flow at a
 * time (`classifyFlow()`, the tree walk), a batch through the SIMD kernel (`classifyFlows()`) and
 * the same batch by walking the trees — next to the model's cross-validated macro-F1, so speed
 * is never read without the quality it comes with. The CV figures are the stored ones
 * (`iscx_model_cv.json`; 5-fold CV retrains 20 models, too slow for a bench), printed only while
 * the model file is the one they were computed for. Rows come from the shared ISCX files when
 * present, else a synthetic spread. Figures only; no pass/fail on timing.
 */
import {
  builtinModels,
  classifyFlow,
  classifyFlows,
} from "../../src/analyzer/classify/model/classify_flow.ts";
import { datasetDir, datasetFiles } from "../../src/analyzer/classify/model/dataset_dir.ts";
import { deriveFeatures } from "../../src/analyzer/classify/model/derive_features.ts";
import { parseDataset } from "../../src/analyzer/classify/model/parse_dataset.ts";
import {
  boostingKernel,
  boostingWalkMany,
} from "../../src/analyzer/classify/model/train_boosting.ts";
import { fmt } from "./_measure.ts";

const MODEL_DIR = new URL("../../src/analyzer/classify/model/", import.meta.url);
const TARGET = 50_000;

/** The stored cross-validation figures of the shipped model (see `iscx_model_cv.json`). */
export interface StoredCv {
  model: string;
  modelSha256: string;
  command: string;
  folds: number;
  seed: number;
  files: Record<string, { macroF1: number; accuracy: number }>;
}

/** SHA-256 of the shipped model file, hex. */
export async function modelSha256(): Promise<string> {
  const bytes = await Deno.readFile(new URL("iscx_model.json", MODEL_DIR));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The stored CV report. */
export async function storedCv(): Promise<StoredCv> {
  return JSON.parse(await Deno.readTextFile(new URL("iscx_model_cv.json", MODEL_DIR)));
}

function rowsFor(file: string): { x: Float64Array; rows: number; source: string } {
  try {
    const data = parseDataset(Deno.readTextFileSync(`${datasetDir()}${file}`), file);
    return { x: data.x, rows: data.rows, source: `${file} rows` };
  } catch {
    const rows = 2000;
    const x = Float64Array.from(
      { length: rows * 23 },
      (_, i) => ((Math.floor(i / 23) * 7919 + (i % 23) * 104729) % 1_000_003) * 13,
    );
    return { x, rows, source: "synthetic rows (no ISCX files)" };
  }
}

/** Runs `fn` (which handles `n` flows) for at least ~1 s after a warm-up; flows per second. */
function rate(n: number, fn: () => void): number {
  fn();
  let flows = 0;
  const started = performance.now();
  while (performance.now() - started < 1000) {
    fn();
    flows += n;
  }
  return flows / ((performance.now() - started) / 1000);
}

/** Prints model size, classification throughput and the CV figures. */
export async function run(): Promise<void> {
  const bytes = (await Deno.stat(new URL("iscx_model.json", MODEL_DIR))).size;
  const loadStart = performance.now();
  const set = builtinModels();
  const loadMs = performance.now() - loadStart;
  const trees = set.models.reduce((n, m) => n + m.booster.trees.length, 0);
  const nodes = set.models.reduce(
    (n, m) => n + m.booster.trees.reduce((s, t) => s + t.feature.length, 0),
    0,
  );
  console.log(
    `model: ${
      (bytes / 1024).toFixed(0)
    } KiB JSON, ${set.models.length} models, ${trees} trees, ${nodes} nodes, parsed in ${
      loadMs.toFixed(0)
    } ms`,
  );
  for (const [timeout, file] of [[15, datasetFiles[1]!], [120, datasetFiles[3]!]] as const) {
    const { x, rows, source } = rowsFor(file);
    const model = set.pick(timeout);
    const kernelStart = performance.now();
    const kernel = boostingKernel(model.booster);
    const kernelMs = performance.now() - kernelStart;
    const single = rate(rows, () => {
      for (let r = 0; r < rows; r++) classifyFlow(x.subarray(r * 23, r * 23 + 23), { timeout });
    });
    const batch = rate(rows, () => classifyFlows(x, { timeout }));
    const width = model.booster.width;
    const out = new Float64Array(rows * model.classes.length);
    const walk = rate(rows, () => {
      boostingWalkMany(model.booster, deriveFeatures(x, rows), width, rows, out);
    });
    console.log(`${timeout}s model, ${source} (${fmt(rows)}):`);
    console.log(
      `  classifyFlows (batch, ${kernel ? "SIMD kernel" : "tree walk: no kernel"}) ${
        fmt(batch).padStart(8)
      } flows/s  target ≥ ${fmt(TARGET)}: ${
        batch >= TARGET ? "met" : "NOT met"
      }  (kernel built in ${kernelMs.toFixed(0)} ms)`,
    );
    console.log(
      `  batch by walking the trees (before) ${fmt(walk).padStart(8)} flows/s  kernel / walk ${
        (batch / walk).toFixed(1)
      }×`,
    );
    console.log(`  classifyFlow (one flow, tree walk) ${fmt(single).padStart(8)} flows/s`);
  }
  const cv = await storedCv();
  const same = cv.modelSha256 === await modelSha256();
  const figures = Object.entries(cv.files).map(([f, s]) =>
    `${f.replace(".arff", "")} ${s.macroF1.toFixed(4)}`
  ).join(", ");
  console.log(
    same
      ? `CV macro-F1 (stored, ${cv.folds}-fold, seed ${cv.seed}, \`${cv.command}\`): ${figures}`
      : `CV macro-F1: the stored figures are for another model file (sha256 ${
        cv.modelSha256.slice(0, 12)
      }…): rerun \`${cv.command}\` and update iscx_model_cv.json`,
  );
}
