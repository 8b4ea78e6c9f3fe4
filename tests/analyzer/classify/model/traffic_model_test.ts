import assert from "node:assert/strict";
import { ModelSet } from "../../../../src/analyzer/classify/model/model_set.ts";
import { forestProba, trainForest } from "../../../../src/analyzer/classify/model/train_forest.ts";
import { TrafficModel } from "../../../../src/analyzer/classify/model/traffic_model.ts";
import { syntheticRows } from "./_synthetic.ts";

const classes = ["BROWSING", "CHAT", "FT", "VOIP"];
const small = { rounds: 8, maxLeaves: 7, minChildSamples: 3 };

function accuracy(predict: (base: number) => Float64Array, data: ReturnType<typeof syntheticRows>) {
  let correct = 0;
  for (let r = 0; r < data.rows; r++) {
    const p = predict(r * 23);
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k]! > p[best]!) best = k;
    if (best === data.y[r]) correct++;
  }
  return correct / data.rows;
}

Deno.test("TrafficModel.train() learns a separable synthetic set", () => {
  const train = syntheticRows(200, classes, 1);
  const test = syntheticRows(100, classes, 2);
  const model = TrafficModel.train(train, { hyperparameters: small, seed: 5 });
  assert.equal(model.booster.trees.length, 8 * classes.length);
  assert.ok(accuracy((base) => model.proba(test.x, base), test) > 0.97);
});

Deno.test("trainForest() learns a separable synthetic set and fits its training rows", () => {
  const train = syntheticRows(200, classes, 1);
  const test = syntheticRows(100, classes, 2);
  const forest = trainForest({ x: train.x, y: train.y, width: 23, classes: 4 }, { trees: 10 });
  const out = new Float64Array(4);
  const predict = (x: Float64Array) => (base: number) => {
    forestProba(forest, x, base, out);
    return out;
  };
  assert.ok(accuracy(predict(test.x), test) > 0.97);
  // A fully grown tree separates its training rows, so the forest fits them all.
  assert.equal(accuracy(predict(train.x), train), 1);
});

Deno.test("trainForest() in extra-trees mode learns the synthetic set", () => {
  const train = syntheticRows(200, classes, 1);
  const test = syntheticRows(100, classes, 2);
  const forest = trainForest(
    { x: train.x, y: train.y, width: 23, classes: 4 },
    { trees: 10, splitter: "random", bootstrap: false },
  );
  const out = new Float64Array(4);
  assert.ok(
    accuracy((base) => {
      forestProba(forest, test.x, base, out);
      return out;
    }, test) > 0.95,
  );
});

Deno.test("TrafficModel JSON round-trips to identical probabilities", () => {
  const train = syntheticRows(120, classes, 1);
  const model = TrafficModel.train(train, {
    hyperparameters: { ...small, featureFraction: 0.7, baggingFraction: 0.8 },
    seed: 9,
    timeout: 15,
    trainedOn: ["synthetic"],
  });
  const json = JSON.parse(JSON.stringify(model.toJSON()));
  const copy = TrafficModel.fromJSON(json);
  assert.deepEqual(copy.classes, classes);
  assert.equal(copy.timeout, 15);
  const test = syntheticRows(40, classes, 4);
  for (let r = 0; r < test.rows; r++) {
    assert.deepEqual([...copy.proba(test.x, r * 23)], [...model.proba(test.x, r * 23)]);
  }
  assert.equal(JSON.stringify(copy.toJSON()), JSON.stringify(model.toJSON()));
});

Deno.test("TrafficModel.train() with the same seed gives the same bytes, another seed differs", () => {
  const train = syntheticRows(150, classes, 1);
  const options = { ...small, featureFraction: 0.5, baggingFraction: 0.7 };
  const a = JSON.stringify(TrafficModel.train(train, { hyperparameters: options, seed: 3 }));
  const b = JSON.stringify(TrafficModel.train(train, { hyperparameters: options, seed: 3 }));
  const c = JSON.stringify(TrafficModel.train(train, { hyperparameters: options, seed: 4 }));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

Deno.test("TrafficModel.fromJSON() rejects a truncated tree blob", () => {
  const model = TrafficModel.train(syntheticRows(60, classes, 1), { hyperparameters: small });
  const json = model.toJSON();
  json.nodes = json.nodes.slice(0, 8);
  assert.throws(() => TrafficModel.fromJSON(json, "cut.json"), RangeError);
  assert.throws(() => TrafficModel.fromJSON({ format: "other" }, "x.json"), /x\.json/);
});

Deno.test("ModelSet.pick() chooses the member nearest the flow timeout", () => {
  const rows = syntheticRows(60, classes, 1);
  const m15 = TrafficModel.train(rows, { hyperparameters: small, timeout: 15 });
  const m120 = TrafficModel.train(rows, { hyperparameters: small, timeout: 120 });
  const set = ModelSet.fromJSON(JSON.parse(JSON.stringify(new ModelSet([m15, m120]))));
  assert.equal(set.pick(15).timeout, 15);
  assert.equal(set.pick(30).timeout, 15);
  assert.equal(set.pick(60).timeout, 120);
  assert.equal(set.pick(600).timeout, 120);
  assert.equal(set.pick().timeout, 15);
});
