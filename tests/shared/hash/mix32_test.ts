import assert from "node:assert/strict";
import { fnv1a } from "../../../src/shared/hash/fnv1a.ts";
import { mix32 } from "../../../src/shared/hash/mix32.ts";

Deno.test("mix32() is MurmurHash3's fmix32", () => {
  assert.equal(mix32(0), 0);
  assert.equal(mix32(1), 0x514e28b7);
  assert.equal(mix32(0xffffffff), 0x81f16f39);
});

Deno.test("mix32() spreads neighbouring addresses over the whole 32-bit range", () => {
  const ips = Array.from({ length: 10 }, (_, i) => `10.0.0.${10 + i}`);
  const spread = (hashes: number[]) => (Math.max(...hashes) - Math.min(...hashes)) / 2 ** 32;
  // FNV-1a alone keeps these within a few percent of the range (why a ring mixes first).
  assert.ok(spread(ips.map((ip) => fnv1a(ip))) < 0.1);
  assert.ok(spread(ips.map((ip) => mix32(fnv1a(ip)))) > 0.5);
});
