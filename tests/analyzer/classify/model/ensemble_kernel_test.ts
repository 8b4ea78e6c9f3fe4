import assert from "node:assert/strict";
import { ensembleKernel } from "../../../../src/analyzer/classify/model/_ensemble_kernel.ts";
import { ensembleKernelWasm } from "../../../../src/analyzer/classify/model/_ensemble_kernel_wasm.ts";
import { createRng } from "../../../../src/analyzer/classify/model/_rng.ts";
import { builtinModels } from "../../../../src/analyzer/classify/model/classify_flow.ts";
import { datasetFiles } from "../../../../src/analyzer/classify/model/dataset_dir.ts";
import { iscxData } from "./_iscx_data.ts";
import { deriveFeatures } from "../../../../src/analyzer/classify/model/derive_features.ts";
import { parseDataset } from "../../../../src/analyzer/classify/model/parse_dataset.ts";
import { TrafficModel } from "../../../../src/analyzer/classify/model/traffic_model.ts";
import {
  boostingKernel,
  boostingProba,
  boostingWalkMany,
} from "../../../../src/analyzer/classify/model/train_boosting.ts";
import { assembleEnsembleKernel } from "../../../../scripts/build-ensemble-kernel.ts";
import { syntheticRows } from "./_synthetic.ts";

/** Asserts that `probaMany()` (the kernel for batches) equals `proba()` (the tree walk) bit for bit. */
function assertSameAsWalk(model: TrafficModel, x: Float64Array, rows: number, what: string) {
  const K = model.classes.length;
  const batch = model.probaMany(x, rows);
  const one = new Float64Array(K);
  let checked = 0;
  for (let r = 0; r < rows; r++) {
    model.proba(x, r * 23, one);
    for (let k = 0; k < K; k++) {
      const a = batch[r * K + k]!, b = one[k]!;
      if (!Object.is(a, b)) {
        assert.fail(`${what}: row ${r} class ${k}: kernel ${a} ≠ walk ${b}`);
      }
      checked++;
    }
  }
  assert.equal(checked, rows * K);
}

/**
 * Raw rows whose derived features land on, just below and just above every bin edge the model
 * splits on, plus NaN, ±Infinity, −0 and random values: the comparisons the trees make.
 */
function edgeRows(model: TrafficModel, rows: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const cuts = model.booster.cuts;
  const x = new Float64Array(rows * 23);
  const specials = [Number.NaN, Infinity, -Infinity, -0, 0, -1];
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < 23; f++) {
      const cut = cuts[f]!;
      const roll = rng.next();
      let v: number;
      if (roll < 0.6 && cut.length > 0) {
        const edge = cut[rng.int(cut.length)]!;
        const nudge = rng.int(3);
        // The edge itself goes left; the next double up goes right.
        v = nudge === 0 ? edge : nudge === 1 ? edge * (1 + 2 ** -52) + 1e-300 : edge / 2;
      } else if (roll < 0.7) v = specials[rng.int(specials.length)]!;
      else v = rng.next() * 10 ** rng.int(8);
      x[r * 23 + f] = v;
    }
  }
  return x;
}

Deno.test("probaMany() gives bit-identical probabilities to the tree walk on edge values", () => {
  for (const model of builtinModels().models) {
    assert.ok(boostingKernel(model.booster), "the shipped models fit the SIMD kernel");
    // 1,061 rows: more than one kernel call (1,024) and not a multiple of its 64-row block.
    const rows = 1061;
    assertSameAsWalk(model, edgeRows(model, rows, 7), rows, `${model.timeout}s model`);
  }
});

Deno.test("ensembleKernel() splits on the derived columns exactly at their bin edges", () => {
  // Derived columns (23…38) only get values from the raw ones, so set them directly here.
  const model = builtinModels().models[1]!;
  const booster = model.booster;
  const kernel = ensembleKernel(booster)!;
  const rows = 96, W = booster.width, K = booster.classes;
  const rng = createRng(5);
  const x = deriveFeatures(edgeRows(model, rows, 9), rows);
  for (let r = 0; r < rows; r++) {
    for (let f = 23; f < W; f++) {
      const cut = booster.cuts[f]!;
      if (rng.next() < 0.7) x[r * W + f] = cut[rng.int(cut.length)]!;
    }
  }
  const raw = new Float64Array(rows * K);
  kernel.rawScores(x, W, rows, raw);
  const walked = new Float64Array(rows * K);
  boostingWalkMany(booster, x, W, rows, walked);
  const one = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    // Same softmax as the walk, applied to the kernel's raw sums.
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, raw[r * K + k]!);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += one[k] = Math.exp(raw[r * K + k]! - max);
    for (let k = 0; k < K; k++) one[k] = one[k]! / sum;
    const single = new Float64Array(K);
    boostingProba(booster, x, r * W, single);
    assert.deepEqual(one, single, `row ${r}`);
    assert.deepEqual(walked.subarray(r * K, r * K + K), single, `row ${r} (4-row walk)`);
  }
});

Deno.test("probaMany() walks the trees for a model the kernel cannot take (31 leaves)", () => {
  // Random labels, so the trees grow to their leaf limit.
  const data = syntheticRows(600, ["A", "B", "C"], 4);
  const rng = createRng(8);
  for (let r = 0; r < data.rows; r++) data.y[r] = rng.int(3);
  const grow = { rounds: 3, minChildSamples: 2 };
  const model = TrafficModel.train(data, { hyperparameters: { ...grow, maxLeaves: 31 } });
  const leaves = Math.max(
    ...model.booster.trees.map((t) => t.feature.filter((f) => f < 0).length),
  );
  assert.ok(leaves > 16, `a tree with ${leaves} leaves`);
  assert.equal(boostingKernel(model.booster), undefined);
  assertSameAsWalk(model, data.x, data.rows, "31-leaf model");
  // A small model that fits is taken by the kernel, with the same results.
  const small = TrafficModel.train(data, { hyperparameters: { ...grow, maxLeaves: 16 } });
  assert.ok(boostingKernel(small.booster));
  assertSameAsWalk(small, data.x, data.rows, "8-leaf model");
});

const { dir, have: haveData } = iscxData("the ISCX kernel comparison");

Deno.test({
  name: "probaMany() equals the tree walk bit for bit on every ISCX training row",
  ignore: !haveData,
  fn() {
    for (const file of datasetFiles) {
      const data = parseDataset(Deno.readTextFileSync(`${dir}${file}`), file);
      const model = builtinModels().pick(file.startsWith("15s") ? 15 : 120);
      assertSameAsWalk(model, data.x, data.rows, file);
    }
  },
});

Deno.test("the embedded kernel is _ensemble_kernel.wat assembled", async () => {
  const assembled = await assembleEnsembleKernel();
  assert.equal(
    ensembleKernelWasm,
    btoa(String.fromCharCode(...assembled)),
    "run scripts/build-ensemble-kernel.ts after editing the .wat",
  );
});
