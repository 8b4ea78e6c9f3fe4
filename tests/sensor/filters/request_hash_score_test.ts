import { COMPONENT_SCHEMAS } from "../../../src/shared/config/components.ts";
import { validate } from "../../../src/shared/config/schema.ts";
import assert from "node:assert/strict";
import { requestHashScore } from "../../../src/sensor/filters/request_hash_score.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";
import { seededRandom } from "../../_support/random.ts";

const ring = { history_size: 6, max_score: 4, min_repeats: 2, timeout: 300 };
const config = {
  enabled: true,
  skip_if: [],
  per_ip: ring,
  per_useragent: { ...ring, max_score: 100 },
};

/** The score by definition: ring entries whose value occurs ≥ min_repeats times in the ring. */
function referenceScore(history: string[], size: number, minRepeats: number): number {
  const last = history.slice(-size);
  const counts = new Map<string, number>();
  for (const h of last) counts.set(h, (counts.get(h) ?? 0) + 1);
  return last.filter((h) => counts.get(h)! >= minRepeats).length;
}

Deno.test("requestHashScore() matches the by-definition score on random sequences", () => {
  const random = seededRandom(7);
  for (const [size, minRepeats, maxScore] of [[6, 2, 4], [5, 3, 3], [1, 1, 1], [40, 3, 20]]) {
    const cfg = {
      ...config,
      per_ip: { history_size: size!, max_score: maxScore!, min_repeats: minRepeats!, timeout: 300 },
    };
    const f = requestHashScore(cfg);
    const history: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const url = `/p${Math.floor(random() * 4)}`;
      history.push(url);
      const r = rec({ url, http_user_agent: `ua${i}` });
      const ctx = ctxFor(r, i * 10);
      f.run(r, ctx);
      const expected = referenceScore(history, size!, minRepeats!) >= maxScore!;
      assert.equal(ctx.events.includes("hash_score_ip"), expected, `size ${size} step ${i}`);
    }
  }
});

Deno.test("requestHashScore() emits hash_score_ua across IPs sharing a UA", () => {
  const f = requestHashScore({
    ...config,
    per_ip: { ...ring, max_score: 100 },
    per_useragent: ring,
  });
  const events: string[][] = [];
  for (let i = 0; i < 4; i++) {
    const r = rec({ ip: `10.0.0.${i}`, url: "/login", http_user_agent: "bot" });
    const ctx = ctxFor(r, i * 1000);
    f.run(r, ctx);
    events.push(ctx.events);
  }
  assert.deepEqual(events, [[], [], [], ["hash_score_ua"]]);
});

Deno.test("requestHashScore() distinguishes method and host in the hash", () => {
  const f = requestHashScore(config);
  const seen: string[][] = [];
  for (const [method, host] of [["GET", "a"], ["POST", "a"], ["GET", "b"], ["HEAD", "a"]]) {
    const r = rec({ method: method!, host: host!, url: "/x" });
    const ctx = ctxFor(r, 0);
    f.run(r, ctx);
    seen.push(ctx.events);
  }
  assert.deepEqual(seen, [[], [], [], []]);
});

Deno.test("requestHashScore() starts over after timeout and sweep drops idle state", () => {
  const f = requestHashScore(config);
  const hit = (sec: number) => {
    const r = rec({ url: "/same" });
    const ctx = ctxFor(r, sec * 1000);
    f.run(r, ctx);
    return ctx.events.includes("hash_score_ip");
  };
  assert.deepEqual([hit(0), hit(1), hit(2), hit(3)], [false, false, false, true]);
  assert.equal(hit(304), false, "idle past timeout: ring emptied");
  assert.equal(f.stats().keys, 1);
  f.sweep!(305_000);
  assert.equal(f.stats().keys, 1, "seen at 304: not idle yet");
  f.sweep!(700_000);
  assert.equal(f.stats().keys, 0);
});

Deno.test("requestHashScore() ignores the response phase and rejects bad sizes", () => {
  const f = requestHashScore(config);
  for (let i = 0; i < 10; i++) {
    const r = rec({ url: "/same" });
    const ctx = ctxFor(r, i, "response");
    f.run(r, ctx);
    assert.deepEqual(ctx.events, []);
  }
  assert.throws(
    () =>
      validate(
        COMPONENT_SCHEMAS.request_hash_score,
        { ...config, per_ip: { ...ring, history_size: 0 } },
        "request_hash_score",
      ),
    /request_hash_score\.per_ip\.history_size: 0 is below the minimum 1/,
  );
});
