import assert from "node:assert/strict";
import { memo, MEMO_KEY_MAX } from "../../../src/sensor/filters/_memo.ts";

Deno.test("memo() computes a key once while remembered, and forgets the least recently used past its limit", () => {
  const calls: string[] = [];
  const upper = memo((key: string) => {
    calls.push(key);
    return key.toUpperCase();
  }, 2);
  assert.equal(upper("a"), "A");
  assert.equal(upper("a"), "A");
  assert.equal(upper("b"), "B");
  assert.deepEqual(calls, ["a", "b"]);
  // "a" used again after "b": a third key pushes out "b", not "a".
  assert.equal(upper("a"), "A");
  assert.equal(upper("c"), "C");
  assert.equal(upper("a"), "A");
  assert.equal(upper("b"), "B");
  assert.deepEqual(calls, ["a", "b", "c", "b"]);
});

Deno.test("memo() remembers falsy answers too", () => {
  let n = 0;
  const isBot = memo((ua: string) => {
    n++;
    return ua.includes("bot") ? 1 : 0;
  });
  for (let i = 0; i < 5; i++) assert.equal(isBot("curl/8"), 0);
  assert.equal(n, 1);
});

Deno.test("memo() judges a key longer than MEMO_KEY_MAX by its head, once", () => {
  const seen: number[] = [];
  const length = memo((ua: string) => {
    seen.push(ua.length);
    return ua.length;
  });
  const hostile = (tail: string) => "x".repeat(MEMO_KEY_MAX) + tail.repeat(100_000);
  assert.equal(length(hostile("a")), MEMO_KEY_MAX);
  assert.equal(length(hostile("b")), MEMO_KEY_MAX, "same head: the remembered answer");
  assert.deepEqual(seen, [MEMO_KEY_MAX]);
  assert.equal(length("short"), 5);
  assert.deepEqual(seen, [MEMO_KEY_MAX, 5]);
});
