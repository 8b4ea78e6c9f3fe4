import assert from "node:assert/strict";
import {
  builtinModels,
  classifyFlow,
  classifyFlows,
} from "../../../../src/analyzer/classify/model/classify_flow.ts";
import { createRng } from "../../../../src/analyzer/classify/model/_rng.ts";

// Seed row 1 of the TrActor table: 2 packets, one each way, 448 bytes, 192,013 µs apart.
const seedRow = [
  192013,
  0,
  0,
  -1,
  -1,
  -1,
  -1,
  0,
  0,
  10.4159,
  2333.1233,
  192013,
  192013,
  192013,
  0,
  -1,
  0,
  -1,
  0,
  -1,
  0,
  -1,
  0,
];

Deno.test("classifyFlow() names an ISCX class for a flow with a confidence in (0, 1]", () => {
  const all = new Set(builtinModels().models.flatMap((m) => [...m.classes]));
  for (const timeout of [15, 120]) {
    const verdict = classifyFlow(seedRow, { timeout });
    assert.ok(all.has(verdict.label), verdict.label);
    assert.ok(verdict.confidence > 0 && verdict.confidence <= 1);
  }
  assert.deepEqual(classifyFlow(Float64Array.from(seedRow)), classifyFlow(seedRow));
});

Deno.test("classifyFlow() rejects a short feature vector", () => {
  assert.throws(() => classifyFlow([1, 2, 3]), RangeError);
});

Deno.test("builtinModels() ships one model per flow timeout over VPN and non-VPN classes", () => {
  const set = builtinModels();
  assert.deepEqual(set.models.map((m) => m.timeout), [15, 120]);
  for (const model of set.models) {
    assert.equal(model.classes.length, 14);
    assert.ok(model.classes.includes("VPN-CHAT") && model.classes.includes("CHAT"));
  }
});

Deno.test("classifyFlows() gives the same verdicts as classifyFlow() row by row", () => {
  const rng = createRng(11);
  const rows = 11; // not a multiple of the 4-row batch
  const x = new Float64Array(rows * 23);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < 23; f++) x[r * 23 + f] = Math.floor(rng.next() * 10 ** (1 + (f % 7)));
  }
  x.set(seedRow, 0);
  for (const timeout of [15, 120]) {
    const batch = classifyFlows(x, { timeout });
    assert.equal(batch.length, rows);
    for (let r = 0; r < rows; r++) {
      const one = classifyFlow(x.subarray(r * 23, r * 23 + 23), { timeout });
      assert.equal(batch[r]!.label, one.label);
      assert.ok(Math.abs(batch[r]!.confidence - one.confidence) < 1e-12);
    }
  }
  assert.throws(() => classifyFlows(new Float64Array(24)), RangeError);
});
