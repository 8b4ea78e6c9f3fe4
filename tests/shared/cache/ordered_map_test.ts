import assert from "node:assert/strict";
import { OrderedMap } from "../../../src/shared/cache/ordered_map.ts";

/** A Map as the reference: insertion order, touch = delete and set again. */
function reference(): {
  map: Map<number, number>;
  touch(key: number): void;
  deleteOldest(): void;
} {
  const map = new Map<number, number>();
  return {
    map,
    touch(key) {
      const value = map.get(key);
      if (value === undefined) return;
      map.delete(key);
      map.set(key, value);
    },
    deleteOldest() {
      const first = map.keys().next();
      if (!first.done) map.delete(first.value);
    },
  };
}

Deno.test("OrderedMap keeps a Map's order through random sets, touches, deletes and evictions", () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const ours = new OrderedMap<number, number>();
  const ref = reference();
  for (let step = 0; step < 20_000; step++) {
    const key = random(200);
    switch (random(5)) {
      case 0:
      case 1:
        ours.set(key, step);
        ref.map.set(key, step);
        break;
      case 2:
        assert.equal(ours.touch(key), ref.map.get(key));
        ref.touch(key);
        break;
      case 3:
        assert.equal(ours.delete(key), ref.map.delete(key));
        break;
      case 4:
        assert.equal(ours.deleteOldest(), ref.map.size > 0);
        ref.deleteOldest();
        break;
    }
    assert.equal(ours.size, ref.map.size);
    assert.equal(ours.oldestKey(), ref.map.keys().next().value);
    if (step % 97 === 0) assert.deepEqual([...ours], [...ref.map]);
  }
  assert.deepEqual([...ours], [...ref.map]);
});

Deno.test("OrderedMap: deleting entries during a walk skips them, like a Map", () => {
  const ours = new OrderedMap<string, number>();
  for (let i = 0; i < 10; i++) ours.set(`k${i}`, i);
  const seen: number[] = [];
  for (const [key, value] of ours) {
    seen.push(value);
    ours.delete(key); // the current one
    ours.delete(`k${value + 1}`); // and the next
  }
  assert.deepEqual(seen, [0, 2, 4, 6, 8]);
  assert.equal(ours.size, 0);
  assert.equal(ours.oldestKey(), undefined);
});

Deno.test("OrderedMap.set() of a present key replaces its value in place; clear() empties", () => {
  const ours = new OrderedMap<string, number>();
  ours.set("a", 1).set("b", 2).set("a", 3);
  assert.deepEqual([...ours], [["a", 3], ["b", 2]]);
  assert.equal(ours.oldestValue(), 3);
  ours.clear();
  assert.equal(ours.size, 0);
  assert.deepEqual([...ours], []);
  assert.equal(ours.deleteOldest(), false);
});
