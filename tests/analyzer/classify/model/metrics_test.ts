import assert from "node:assert/strict";
import { classificationReport } from "../../../../src/analyzer/classify/model/classification_report.ts";
import { stratifiedFolds } from "../../../../src/analyzer/classify/model/stratified_folds.ts";

Deno.test("classificationReport() computes per-class scores and macro-F1", () => {
  // truth:     A A A B B C ; predicted: A A B B C C
  const report = classificationReport([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ["A", "B", "C"]);
  assert.equal(report.accuracy, 4 / 6);
  assert.deepEqual(report.per_class.A, { precision: 1, recall: 2 / 3, f1: 0.8, support: 3 });
  assert.equal(report.per_class.B!.f1, 0.5);
  assert.equal(report.per_class.C!.precision, 0.5);
  assert.ok(Math.abs(report.macro_f1 - (0.8 + 0.5 + 2 / 3) / 3) < 1e-12);
});

Deno.test("classificationReport() leaves out classes absent from truth and predictions", () => {
  const report = classificationReport([1, 1], [1, 1], ["A", "B"]);
  assert.deepEqual(Object.keys(report.per_class), ["B"]);
  assert.equal(report.macro_f1, 1);
});

Deno.test("stratifiedFolds() spreads every class evenly and is seeded", () => {
  const y = [...Array(50).fill(0), ...Array(11).fill(1), ...Array(5).fill(2)];
  const folds = stratifiedFolds(y, 5, 7);
  for (const label of [0, 1, 2]) {
    const perFold = [0, 0, 0, 0, 0];
    y.forEach((c, i) => c === label && perFold[folds[i]!]!++);
    assert.ok(Math.max(...perFold) - Math.min(...perFold) <= 1, `class ${label}: ${perFold}`);
  }
  assert.deepEqual([...stratifiedFolds(y, 5, 7)], [...folds]);
  assert.notDeepEqual([...stratifiedFolds(y, 5, 8)], [...folds]);
  assert.throws(() => stratifiedFolds(y, 1), RangeError);
});
