import assert from "node:assert/strict";
import { LiteralSet } from "../../../src/shared/text/literal_set.ts";
import { listEntries } from "../../../src/sensor/filters/_detection_lists.ts";

// The reference: V8's regex engine running the same entries as an escaped alternation.
function reference(entries: readonly string[]): RegExp {
  return new RegExp(
    entries.map((e) => e.toLowerCase().replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|"),
    "i",
  );
}

/** A deterministic pseudo-random generator (xorshift32). */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

Deno.test("LiteralSet finds what the regex alternation finds, on the shipped attack patterns", async () => {
  const entries = listEntries(
    await Deno.readTextFile(
      new URL("../../../config/detection/attack_patterns.txt", import.meta.url),
    ),
  );
  const set = LiteralSet.of(entries);
  const re = reference(entries);
  const pick = rng(7);
  const alphabet =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/.-_%?=&'\"<>();: +";
  let hits = 0;
  for (let n = 0; n < 20000; n++) {
    // Random text, with an entry (case changed) spliced in half of the time.
    let text = "";
    for (let i = pick(60); i > 0; i--) text += alphabet[pick(alphabet.length)];
    if (pick(2) === 0) {
      const entry = entries[pick(entries.length)]!;
      const cased = [...entry].map((c) => (pick(2) ? c.toUpperCase() : c)).join("");
      const at = pick(text.length + 1);
      // Cut the entry short sometimes: a near miss must not match.
      const piece = pick(4) === 0 ? cased.slice(0, Math.max(1, cased.length - 1)) : cased;
      text = text.slice(0, at) + piece + text.slice(at);
    }
    const want = re.test(text);
    if (want) hits++;
    assert.equal(set.test(text), want, JSON.stringify(text));
  }
  assert.ok(hits > 5000 && hits < 15000, `both outcomes exercised (${hits} hits)`);
});

Deno.test("LiteralSet: overlapping entries, suffixes, case and characters outside ASCII", () => {
  const entries = ["he", "she", "his", "hers", "Ünï", "a.b", "x😀y"];
  const set = LiteralSet.of(entries);
  const re = reference(entries);
  for (
    const text of [
      "ushers",
      "SHE",
      "hi",
      "ahishers",
      "h",
      "",
      "ÜNÏcode",
      "ünÏ",
      "aXb",
      "a.B",
      "x😀y",
      "x😁y",
      "xy",
      "h e",
    ]
  ) {
    assert.equal(set.test(text), re.test(text), text);
  }
  assert.equal(LiteralSet.of([...entries]), set, "one automaton per distinct list");
});
