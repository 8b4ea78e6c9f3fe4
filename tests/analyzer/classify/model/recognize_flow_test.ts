import assert from "node:assert/strict";
import { createRng } from "../../../../src/analyzer/classify/model/_rng.ts";
import {
  type FlowService,
  recognizeFlow,
  recognizeFlows,
} from "../../../../src/analyzer/classify/model/recognize_flow.ts";

Deno.test("recognizeFlows() gives recognizeFlow()'s verdict for every flow of a batch", () => {
  // Varied features (some far out of range), TCP/UDP on ordinary ports, syslog and DNS ports
  // (foreign services: the model is not asked), ICMP, and no service at all.
  const rng = createRng(21);
  const rows = 300;
  const x = new Float64Array(rows * 23);
  const services: (FlowService | undefined)[] = [];
  for (let r = 0; r < rows; r++) {
    // Half the rows: a two-packet flow like the seed's first row, its gap varied (in range).
    const gap = 1000 + Math.floor(rng.next() * 500_000);
    const plausible = [gap, 0, 0, -1, -1, -1, -1, 0, 0, 2e6 / gap, 448e6 / gap, gap, gap, gap, 0];
    for (let f = 0; f < 23; f++) {
      x[r * 23 + f] = r % 2 === 0
        ? plausible[f] ?? (f % 2 === 1 ? -1 : 0)
        : rng.next() < 0.1
        ? -1
        : Math.floor(rng.next() * 10 ** (1 + ((r + f) % 9)));
    }
    const kind = r % 6;
    services.push(
      kind === 0
        ? undefined
        : kind === 1
        ? { protocol: 17, srcPort: 40000 + r, dstPort: 514 }
        : kind === 2
        ? { protocol: 1, srcPort: 0, dstPort: 0 }
        : { protocol: kind === 3 ? 17 : 6, srcPort: 30000 + r, dstPort: 443 },
    );
  }
  for (const timeout of [15, 120]) {
    const batch = recognizeFlows(x, services, { timeout });
    assert.equal(batch.length, rows);
    const reasons = new Set<string>();
    for (let r = 0; r < rows; r++) {
      const one = recognizeFlow(x.subarray(r * 23, r * 23 + 23), services[r], { timeout });
      assert.deepEqual(batch[r], one, `flow ${r}`);
      reasons.add(one.reason ?? one.label);
    }
    // Foreign services, features out of range, and flows the calibrated model judged.
    for (const reason of ["port", "protocol", "features"]) assert.ok(reasons.has(reason), reason);
    assert.ok(reasons.size >= 4, [...reasons].join());
  }
  assert.throws(() => recognizeFlows(new Float64Array(22), [undefined]), RangeError);
});
