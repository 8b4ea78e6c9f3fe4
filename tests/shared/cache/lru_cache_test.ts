import assert from "node:assert/strict";
import { LruCache } from "../../../src/shared/cache/lru_cache.ts";

Deno.test("LruCache evicts the least recently used entry when full", () => {
  const cache = new LruCache<string, number>(2);
  cache.set("a", 1);
  cache.set("b", 2);
  assert.equal(cache.get("a"), 1); // "b" is now the oldest
  cache.set("c", 3);
  assert.equal(cache.size, 2);
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.get("a"), 1);
  assert.equal(cache.get("c"), 3);
});

Deno.test("LruCache.set() on a present key replaces it without growing", () => {
  const cache = new LruCache<string, number>(2);
  cache.set("a", 1);
  cache.set("b", 2);
  cache.set("a", 10); // refreshes "a": "b" goes next
  cache.set("c", 3);
  assert.equal(cache.get("a"), 10);
  assert.equal(cache.get("b"), undefined);
  cache.clear();
  assert.equal(cache.size, 0);
});

Deno.test("LruCache rejects a capacity that is not a positive integer", () => {
  assert.throws(() => new LruCache(0), RangeError);
  assert.throws(() => new LruCache(1.5), RangeError);
});

Deno.test("LruCache keeps every key used within the last capacity/2 stores, whatever came before", () => {
  const capacity = 100;
  const cache = new LruCache<number, number>(capacity);
  // A hot key read between every store of a stream of one-time keys.
  cache.set(-1, -1);
  for (let i = 0; i < 10_000; i++) {
    assert.equal(cache.get(-1), -1, `hot key lost after ${i} stores`);
    cache.set(i, i);
  }
  assert.equal(cache.size, capacity);
  // One-time keys go first-in first-out: the oldest ones are gone, the newest kept.
  assert.equal(cache.get(10_000 - capacity), undefined);
  assert.equal(cache.get(9_999), 9_999);
});
