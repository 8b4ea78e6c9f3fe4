/**
 * Reproducibly trains the shipped traffic model, src/classify/model/iscx_model.json:
 * one softmax GBDT per flow timeout (15 s, 120 s), each over the VPN-* and non-VPN classes of
 * the shared ISCX VPN-nonVPN 2016 time-feature files, seed 1. Same data + seed → same bytes.
 *
 *   deno run --allow-read --allow-write scripts/train-model.ts [--data <dir>] [--seed <n>]
 */
import { parseArgs } from "node:util";
import { datasetDir, datasetFiles } from "../src/analyzer/classify/model/dataset_dir.ts";
import { parseDataset } from "../src/analyzer/classify/model/parse_dataset.ts";
import { trainModelSet } from "../src/analyzer/classify/model/train_model_set.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { data: { type: "string" }, seed: { type: "string" }, out: { type: "string" } },
});
let dir = values.data ?? datasetDir();
if (!dir.endsWith("/")) dir += "/";
const out = values.out ??
  new URL("../src/analyzer/classify/model/iscx_model.json", import.meta.url).pathname;
const datasets = datasetFiles.map((file) =>
  parseDataset(Deno.readTextFileSync(`${dir}${file}`), file)
);
const started = performance.now();
const set = trainModelSet(datasets, {
  perTimeout: true,
  seed: Number(values.seed ?? 1),
  onModel: (timeout, names, rows) =>
    console.log(`training ${timeout}s model on ${names.join(", ")} (${rows} rows)`),
});
// Indented exactly as `deno fmt` would leave it, so the fmt gate never rewrites the model.
const text = JSON.stringify(set.toJSON(), null, 2);
Deno.writeTextFileSync(out, text + "\n");
console.log(
  `wrote ${out}: ${(text.length / 1024).toFixed(0)} KiB in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s`,
);
