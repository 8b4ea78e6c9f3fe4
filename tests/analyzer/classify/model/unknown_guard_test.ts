import assert from "node:assert/strict";
import { createRng } from "../../../../src/analyzer/classify/model/_rng.ts";
import { calibrationError } from "../../../../src/analyzer/classify/model/calibration_error.ts";
import { evaluateUnknownGuard } from "../../../../src/analyzer/classify/model/evaluate_unknown_guard.ts";
import { featureRanges } from "../../../../src/analyzer/classify/model/feature_ranges.ts";
import { fitTemperature } from "../../../../src/analyzer/classify/model/fit_temperature.ts";
import { fitUnknownGuard } from "../../../../src/analyzer/classify/model/fit_unknown_guard.ts";
import { foreignService } from "../../../../src/analyzer/classify/model/foreign_service.ts";
import { heldOutPredictions } from "../../../../src/analyzer/classify/model/held_out_predictions.ts";
import { labelReport } from "../../../../src/analyzer/classify/model/label_report.ts";
import { parseDataset } from "../../../../src/analyzer/classify/model/parse_dataset.ts";
import { builtinGuard } from "../../../../src/analyzer/classify/model/recognize_flow.ts";
import { scaleTemperature } from "../../../../src/analyzer/classify/model/scale_temperature.ts";
import {
  TrafficModel,
  type TrafficRows,
} from "../../../../src/analyzer/classify/model/traffic_model.ts";
import { UnknownGuard } from "../../../../src/analyzer/classify/model/unknown_guard.ts";
import { builtinModels } from "../../../../src/analyzer/classify/model/classify_flow.ts";
import { syntheticArff, syntheticRows } from "./_synthetic.ts";

Deno.test("scaleTemperature() keeps the ranking, softens with T > 1 and is the identity at T = 1", () => {
  const p = [0.7, 0.2, 0.1];
  assert.deepEqual(
    [...scaleTemperature(p, 1)].map((v) => v.toFixed(12)),
    p.map((v) => v.toFixed(12)),
  );
  const soft = scaleTemperature(p, 2);
  assert.ok(soft[0]! < 0.7 && soft[0]! > soft[1]! && soft[1]! > soft[2]!);
  assert.ok(Math.abs(soft.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  // p^(1/2) renormalised.
  const root = p.map(Math.sqrt), sum = root.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(soft[0]! - root[0]! / sum) < 1e-12);
  assert.ok(scaleTemperature(p, 0.5)[0]! > 0.7);
});

/** Rows drawn from a calibrated 3-class model, then sharpened by temperature `t`. */
function overconfident(rows: number, t: number, seed: number) {
  const rng = createRng(seed);
  const K = 3;
  const proba = new Float64Array(rows * K);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const logits = [0, 1, 2].map(() => rng.next() * 3);
    const z = logits.reduce((a, b) => a + Math.exp(b), 0);
    const calibrated = logits.map((l) => Math.exp(l) / z);
    let u = rng.next(), k = 0;
    while (k < K - 1 && u > calibrated[k]!) u -= calibrated[k++]!;
    y[r] = k;
    proba.set(scaleTemperature(calibrated, 1 / t), r * K);
  }
  return { proba, y, K };
}

Deno.test("fitTemperature() recovers the sharpening of an overconfident model and ECE drops", () => {
  const { proba, y, K } = overconfident(6000, 2, 5);
  const t = fitTemperature(proba, y, K);
  assert.ok(t > 1.8 && t < 2.2, `T = ${t}`);
  const conf = (p: Float64Array) =>
    Array.from({ length: y.length }, (_, r) => Math.max(...p.subarray(r * K, r * K + K)));
  const correct = Array.from({ length: y.length }, (_, r) => {
    const row = [...proba.subarray(r * K, r * K + K)];
    return row.indexOf(Math.max(...row)) === y[r];
  });
  const scaled = new Float64Array(proba.length);
  for (let r = 0; r < y.length; r++) {
    scaleTemperature(proba.subarray(r * K, r * K + K), t, scaled.subarray(r * K, r * K + K));
  }
  const before = calibrationError(conf(proba), correct);
  const after = calibrationError(conf(scaled), correct);
  assert.ok(before > 0.08 && after < 0.03, `ECE ${before} → ${after}`);
  assert.throws(() => fitTemperature(proba, y, 4), RangeError);
});

Deno.test("calibrationError() is the weighted gap between confidence and accuracy per bin", () => {
  // Confidence 0.9, always right: underconfident by 0.1.
  assert.ok(Math.abs(calibrationError([0.9, 0.9], [true, true]) - 0.1) < 1e-12);
  // Two bins: 0.95 right twice (gap 0.05), 0.25 wrong twice (gap 0.25): mean 0.15.
  assert.ok(
    Math.abs(calibrationError([0.95, 0.95, 0.25, 0.25], [true, true, false, false]) - 0.15) < 1e-12,
  );
  assert.throws(() => calibrationError([0.5], []), RangeError);
});

Deno.test("featureRanges() bounds each column and UnknownGuard.outOfRange() names what falls out", () => {
  const data = syntheticRows(400, ["A", "B"], 4);
  const ranges = featureRanges(data.x, data.rows);
  assert.equal(ranges.columns.length, ranges.low.length);
  assert.equal(ranges.columns[0], "duration");
  const guard = new UnknownGuard({
    note: "",
    threshold: 0.5,
    minOutOfRange: 2,
    members: [{ timeout: 15, classes: ["A", "B"], temperature: 1, ...ranges }],
  });
  const member = guard.members[0]!;
  // The 0.5–99.5 % span widened by 10 % holds nearly every training row (uniform noise near 0
  // is long-tailed on the log scale, so a few fall out).
  const out = (r: number) => guard.outOfRange(member, data.x, r * 23).length;
  const clean = Array.from({ length: data.rows }, (_, r) => r).filter((r) => out(r) === 0);
  assert.ok(clean.length >= 0.95 * data.rows, `${clean.length}/${data.rows} rows in range`);
  const inside = data.x.subarray(clean[0]! * 23, clean[0]! * 23 + 23);
  const far = Float64Array.from(inside);
  far[0] = 1e13; // a duration of four months
  const names = guard.outOfRange(member, far);
  assert.ok(names.includes("duration"), names.join());
  far[0] = Number.NaN;
  assert.ok(guard.outOfRange(member, far).includes("duration"), "NaN is out of range");
});

Deno.test("foreignService() names infrastructure ports and non-TCP/UDP protocols", () => {
  assert.equal(foreignService(17, 40000, 514), "udp/514 syslog");
  assert.equal(foreignService(17, 53, 40000), "udp/53 dns", "the reply side counts too");
  assert.equal(foreignService(6, 50000, 11211), "tcp/11211 memcached");
  assert.equal(foreignService(1, 0, 0), "protocol 1");
  assert.equal(foreignService(6, 50000, 443), undefined);
  assert.equal(foreignService(17, 50000, 51413), undefined, "BitTorrent's ports stay in domain");
});

Deno.test("labelReport() counts unknown and other-class predictions as misses", () => {
  const truth = ["A", "A", "B", "B"];
  const report = labelReport(truth, ["A", "unknown", "B", "VPN-B"], ["A", "B"]);
  assert.equal(report.accuracy, 0.5);
  assert.deepEqual(Object.keys(report.per_class), ["A", "B"]);
  assert.equal(report.per_class.A!.recall, 0.5);
  assert.equal(report.per_class.A!.precision, 1);
  assert.ok(Math.abs(report.macro_f1 - 2 / 3) < 1e-12);
  assert.throws(() => labelReport(["C"], ["A"], ["A", "B"]), RangeError);
});

Deno.test("UnknownGuard.fromJSON() loads the shipped calibration and rejects malformed ones", () => {
  const guard = builtinGuard();
  assert.equal(guard.threshold, 0.5);
  for (const model of builtinModels().models) {
    const member = guard.member(model);
    assert.ok(member, `no calibration for the ${model.timeout}s model`);
    assert.ok(member.temperature > 1 && member.temperature < 2, "the GBDT is overconfident");
  }
  const json = guard.toJSON();
  assert.deepEqual(UnknownGuard.fromJSON(JSON.parse(JSON.stringify(json))).toJSON(), json);
  assert.throws(() => UnknownGuard.fromJSON({ format: "x" }), /not a qts-unknown-guard\/1/);
  assert.throws(() => UnknownGuard.fromJSON({ ...json, threshold: 2 }), /threshold/);
  const bad = { ...json, members: [{ ...json.members[0]!, low: [1, 2] }] };
  assert.throws(() => UnknownGuard.fromJSON(bad, "t.json"), /t\.json: member 0/);
});

Deno.test("UnknownGuard.judge() says unknown under the threshold and keeps confident classes", () => {
  const model = builtinModels().pick(120);
  const guard = builtinGuard();
  const K = model.classes.length;
  const x = new Float64Array(23);
  x.set([192013, 0, 0, -1, -1, -1, -1, 0, 0, 10.4159, 2333.1233, 192013, 192013, 192013, 0]);
  x.set([-1, 0, -1, 0, -1, 0, -1, 0], 15);
  const sure = new Float64Array(K).fill(0.01 / (K - 1));
  sure[3] = 0.99;
  assert.deepEqual(
    { ...guard.judge(model, sure, x), confidence: 0 },
    { label: model.classes[3], guess: model.classes[3], confidence: 0 },
  );
  const flat = new Float64Array(K).fill(1 / K);
  const unsure = guard.judge(model, flat, x);
  assert.equal(unsure.label, "unknown");
  assert.equal(unsure.reason, "confidence");
  const far = Float64Array.from(x);
  far[0] =
    far[11] =
    far[12] =
    far[13] =
      1e13;
  const odd = guard.judge(model, sure, far);
  assert.equal(odd.reason, "features");
  assert.match(odd.detail!, /duration/);
});

Deno.test("heldOutPredictions() predicts each row by a model that never saw it", () => {
  const make = (name: string, classes: string[], seed: number) =>
    parseDataset(syntheticArff(syntheticRows(60, classes, seed)), name);
  const files = [
    make("15s-A.arff", ["CHAT", "FT"], 1),
    make("15s-B.arff", ["VPN-CHAT", "VPN-FT"], 2),
    make("120s-A.arff", ["CHAT", "FT"], 3),
  ];
  const seen: TrafficRows[] = [];
  const heldOut = heldOutPredictions(files, {
    folds: 3,
    train(rows, seed) {
      seen.push(rows);
      return TrafficModel.train(rows, { seed, hyperparameters: { rounds: 5 } });
    },
  });
  assert.equal(seen.length, 6, "3 folds × 2 timeouts");
  assert.deepEqual(heldOut[0]!.classes, ["CHAT", "FT", "VPN-CHAT", "VPN-FT"]);
  assert.deepEqual(heldOut[2]!.classes, ["CHAT", "FT"]);
  // Fold f of the 15 s files was predicted by the f-th 15 s model: none of its rows in training.
  for (const [i, file] of heldOut.slice(0, 2).entries()) {
    for (let r = 0; r < file.data.rows; r++) {
      const training = seen[file.fold[r]!]!;
      const row = files[i]!.x.subarray(r * 23, r * 23 + 23).join();
      for (let t = 0; t < training.rows; t++) {
        assert.notEqual(training.x.subarray(t * 23, t * 23 + 23).join(), row);
      }
      const p = file.proba.subarray(r * 4, r * 4 + 4);
      assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    }
  }
  const guard = fitUnknownGuard(heldOut);
  assert.deepEqual(guard.members.map((m) => m.timeout), [15, 120]);
  const evaluation = evaluateUnknownGuard(heldOut);
  for (const report of evaluation.files) {
    assert.ok(report.coverage > 0 && report.coverage <= 1);
    assert.ok(report.open.accuracy <= report.closed.accuracy + 1e-12);
    assert.ok(report.ece.raw >= 0 && report.ece.calibrated >= 0);
  }
  const coverage = evaluation.sweep.map((p) => p.coverage);
  assert.deepEqual([...coverage].sort((a, b) => b - a), coverage, "coverage falls as t rises");
});
