import assert from "node:assert/strict";
import { datasetFiles } from "../../../../src/analyzer/classify/model/dataset_dir.ts";
import { iscxData } from "./_iscx_data.ts";
import { parseDataset } from "../../../../src/analyzer/classify/model/parse_dataset.ts";
import {
  mergeDatasets,
  timeoutFromName,
  trainModelSet,
} from "../../../../src/analyzer/classify/model/train_model_set.ts";
import { syntheticArff, syntheticRows } from "./_synthetic.ts";

Deno.test("timeoutFromName() reads the flow timeout from ISCX-style file names", () => {
  assert.equal(timeoutFromName("15s-NO-VPN.arff"), 15);
  assert.equal(timeoutFromName("/data/TimeBasedFeatures-Dataset-120s-VPN.arff"), 120);
  assert.equal(timeoutFromName("held_out_120s.csv"), 120);
  assert.equal(timeoutFromName("flows.arff"), null);
  assert.equal(timeoutFromName("15seconds.arff"), null);
});

Deno.test("mergeDatasets() stacks rows over the union of classes", () => {
  const a = parseDataset(syntheticArff(syntheticRows(6, ["CHAT", "FT"], 1)), "a");
  const b = parseDataset(syntheticArff(syntheticRows(4, ["VPN-CHAT", "CHAT"], 2)), "b");
  const merged = mergeDatasets([a, b]);
  assert.deepEqual(merged.classes, ["CHAT", "FT", "VPN-CHAT"]);
  assert.equal(merged.rows, 10);
  assert.deepEqual([...merged.y], [0, 1, 0, 1, 0, 1, 2, 0, 2, 0]);
  assert.deepEqual([...merged.x.subarray(6 * 23)], [...b.x]);
});

Deno.test("trainModelSet() with perTimeout trains one model per timeout over its files", () => {
  const make = (name: string, classes: string[], seed: number) =>
    parseDataset(syntheticArff(syntheticRows(40, classes, seed)), name);
  const set = trainModelSet([
    make("120s-NO-VPN.arff", ["CHAT", "FT"], 1),
    make("15s-NO-VPN.arff", ["CHAT", "FT"], 2),
    make("15s-VPN.arff", ["VPN-CHAT", "VPN-FT"], 3),
  ], { perTimeout: true, seed: 2 });
  assert.deepEqual(set.models.map((m) => m.timeout), [15, 120]);
  assert.deepEqual(set.models[0]!.classes, ["CHAT", "FT", "VPN-CHAT", "VPN-FT"]);
  assert.deepEqual(set.models[0]!.trainedOn, ["15s-NO-VPN.arff", "15s-VPN.arff"]);
  assert.equal(set.models[1]!.rows, 40);
});

const { dir, have: haveData } = iscxData("the ISCX file test");

Deno.test({
  name: "parseDataset() loads the four published ISCX files with their declared classes",
  ignore: !haveData,
  fn() {
    const expected = [7172, 7834, 4120, 4504];
    datasetFiles.forEach((file, i) => {
      const data = parseDataset(Deno.readTextFileSync(`${dir}${file}`), file);
      assert.equal(data.rows, expected[i]);
      assert.equal(data.classes.length, 7);
      assert.equal(data.classes[0], file.includes("NO-VPN") ? "BROWSING" : "VPN-BROWSING");
      assert.ok(data.x.every((v) => Number.isFinite(v)));
    });
  },
});
