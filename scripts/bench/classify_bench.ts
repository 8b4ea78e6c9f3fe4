/**
 * `deno task bench classify`: flows/s through `classifyFlow()` and `classifyFlows()` (the shipped
 * model, per timeout) and the shipped model's size. Rows come from the shared ISCX files when present, else a
 * synthetic spread. Prints figures only; no pass/fail on timing.
 */
import {
  builtinModels,
  classifyFlow,
  classifyFlows,
} from "../../src/analyzer/classify/model/classify_flow.ts";
import { datasetDir, datasetFiles } from "../../src/analyzer/classify/model/dataset_dir.ts";
import { parseDataset } from "../../src/analyzer/classify/model/parse_dataset.ts";

function rowsFor(file: string): Float64Array[] {
  try {
    const data = parseDataset(Deno.readTextFileSync(`${datasetDir()}${file}`), file);
    return Array.from({ length: data.rows }, (_, r) => data.x.slice(r * 23, r * 23 + 23));
  } catch {
    return Array.from(
      { length: 2000 },
      (_, r) =>
        Float64Array.from({ length: 23 }, (_, f) => ((r * 7919 + f * 104729) % 1_000_003) * 13),
    );
  }
}

/** Prints model size and classification throughput. */
export async function run(): Promise<void> {
  const modelUrl = new URL("../../src/analyzer/classify/model/iscx_model.json", import.meta.url);
  const bytes = (await Deno.stat(modelUrl)).size;
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
    const rows = rowsFor(file);
    // Warm up the JIT, then time whole passes for at least ~1 s.
    for (let i = 0; i < Math.min(rows.length, 500); i++) classifyFlow(rows[i]!, { timeout });
    let flows = 0;
    const started = performance.now();
    let checksum = 0;
    while (performance.now() - started < 1000) {
      for (const row of rows) checksum += classifyFlow(row, { timeout }).confidence;
      flows += rows.length;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `classifyFlow (${timeout}s model, ${file} rows): ${(flows / seconds).toFixed(0)} flows/s, ${
        (1e6 * seconds / flows).toFixed(1)
      } µs/flow (checksum ${checksum.toFixed(1)})`,
    );
    const packed = new Float64Array(rows.length * 23);
    rows.forEach((row, i) => packed.set(row, i * 23));
    classifyFlows(packed.subarray(0, 23 * 400), { timeout });
    let batchFlows = 0, batchChecksum = 0;
    const batchStarted = performance.now();
    while (performance.now() - batchStarted < 1000) {
      for (const verdict of classifyFlows(packed, { timeout })) batchChecksum += verdict.confidence;
      batchFlows += rows.length;
    }
    const batchSeconds = (performance.now() - batchStarted) / 1000;
    console.log(
      `classifyFlows batch (${timeout}s model): ${
        (batchFlows / batchSeconds).toFixed(0)
      } flows/s, ${
        ((batchFlows / batchSeconds) / (flows / seconds)).toFixed(2)
      }× single (checksum ${batchChecksum.toFixed(1)})`,
    );
  }
}
