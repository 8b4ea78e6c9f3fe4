import assert from "node:assert/strict";
import { RequestJoin } from "../../../src/sensor/ingest/request_join.ts";

Deno.test("RequestJoin: a before-half, its after-half, then repeats of either", () => {
  const join = new RequestJoin();
  assert.equal(join.classify("a", 0, 0), "first");
  assert.equal(join.classify("a", 0, 1), "duplicate");
  assert.equal(join.classify("a", 1, 2), "response");
  assert.equal(join.classify("a", 1, 3), "duplicate");
  // An after-half alone is the whole request.
  assert.equal(join.classify("b", 1, 4), "first");
  assert.equal(join.classify("b", 0, 5), "duplicate");
});

Deno.test("RequestJoin forgets an id once the ttl has passed since it was first seen", () => {
  const join = new RequestJoin({ ttlMs: 1000 });
  join.classify("a", 0, 0);
  join.classify("b", 0, 500);
  assert.equal(join.classify("a", 0, 999), "duplicate");
  assert.equal(join.classify("a", 0, 1000), "first", "a's ttl has passed: a new request");
  assert.equal(join.classify("b", 1, 1000), "response", "b is still within its ttl");
  assert.equal(join.evicted, 0);
});

Deno.test("RequestJoin past maxEntries evicts the oldest ids first and counts them", () => {
  const join = new RequestJoin({ maxEntries: 3 });
  for (const id of ["a", "b", "c", "d"]) join.classify(id, 0, 0);
  assert.equal(join.size, 3);
  assert.equal(join.evicted, 1);
  assert.equal(join.classify("b", 1, 0), "response", "b was kept");
  assert.equal(join.classify("a", 0, 0), "first", "a was evicted (and now evicts b)");
  assert.equal(join.evicted, 2);
  assert.equal(join.classify("d", 0, 0), "duplicate");
  assert.equal(join.classify("b", 0, 0), "first", "b went before c and d");
});

Deno.test("RequestJoin at steady state holds one ttl of ids", () => {
  const join = new RequestJoin({ ttlMs: 10_000 });
  // 200k requests at 1k a second: 200 s, each expiring what is 10 s older.
  for (let i = 0; i < 200_000; i++) {
    const id = `r${i}`;
    assert.equal(join.classify(id, 0, i), "first");
    assert.equal(join.classify(id, 1, i), "response");
  }
  assert.equal(join.size, 10_000);
  assert.equal(join.evicted, 0);
});
