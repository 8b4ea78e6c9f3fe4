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

Deno.test("requestHashScore() emits hash_score_ua for an IP repeating a request shared by a UA", () => {
  const f = requestHashScore({
    ...config,
    per_ip: { ...ring, max_score: 100 },
    per_useragent: ring,
  });
  const events: string[][] = [];
  // One IP repeating /login: the UA's ring and its own ring both show the repeat.
  for (let i = 0; i < 4; i++) {
    const r = rec({ ip: "10.0.0.9", url: "/login", http_user_agent: "bot" });
    const ctx = ctxFor(r, i * 1000);
    f.run(r, ctx);
    events.push(ctx.events);
  }
  assert.deepEqual(events, [[], [], [], ["hash_score_ua"]]);
});

Deno.test("requestHashScore() spares bystanders sharing the attack's User-Agent", () => {
  const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36";
  const f = requestHashScore({
    ...config,
    per_ip: { history_size: 40, max_score: 100, min_repeats: 3, timeout: 300 },
    per_useragent: { history_size: 20, max_score: 10, min_repeats: 3, timeout: 300 },
  });
  const got = new Map<string, number>();
  const send = (ip: string, method: string, url: string, sec: number) => {
    const r = rec({ ip, method, url, http_user_agent: ua });
    const ctx = ctxFor(r, sec * 1000);
    f.run(r, ctx);
    for (const e of ctx.events) got.set(`${ip} ${e}`, (got.get(`${ip} ${e}`) ?? 0) + 1);
  };
  // 40 attack addresses, each POSTing /login once every 20 s, so any 20 consecutive entries of
  // the UA's ring come from 20 different addresses; 50 real users log in once, then browse.
  for (let t = 0; t < 400; t++) {
    for (let k = 0; k < 2; k++) send(`203.0.113.${(t * 2 + k) % 40}`, "POST", "/login", t);
    if (t % 8 === 0) {
      const user = `192.0.2.${t / 8}`;
      send(user, "POST", "/login", t);
      for (let p = 0; p < 5; p++) send(user, "GET", `/account/orders?page=${p}`, t + 1);
    }
  }
  const users = [...got.keys()].filter((k) => k.startsWith("192.0.2."));
  assert.deepEqual(users, [], "no real user is reported");
  for (let a = 0; a < 40; a++) {
    // 20 attempts: the first two are not enough; from the third on each one is reported.
    assert.equal(got.get(`203.0.113.${a} hash_score_ua`), 18, `attacker ${a}`);
  }
});

Deno.test("requestHashScore() does not report a repeater on a request the UA does not repeat", () => {
  const f = requestHashScore({
    ...config,
    per_ip: { ...ring, max_score: 100 },
    per_useragent: { history_size: 10, max_score: 4, min_repeats: 2, timeout: 300 },
  });
  const send = (ip: string, url: string, sec: number) => {
    const r = rec({ ip, url, http_user_agent: "shared" });
    const ctx = ctxFor(r, sec * 1000);
    f.run(r, ctx);
    return ctx.events;
  };
  assert.deepEqual([send("10.0.0.1", "/login", 0), send("10.0.0.1", "/login", 1)], [[], []]);
  assert.deepEqual([send("10.0.0.2", "/login", 2), send("10.0.0.2", "/login", 3)], [[], [
    "hash_score_ua",
  ]]);
  // 10.0.0.1 repeated /login earlier; its page view now is no repeat of the UA's.
  assert.deepEqual(send("10.0.0.1", "/home", 4), []);
  assert.deepEqual(send("10.0.0.1", "/login", 5), ["hash_score_ua"]);
});

Deno.test("requestHashScore() asks no more own repeats than the per_ip ring can hold", () => {
  const f = requestHashScore({
    ...config,
    per_ip: { history_size: 2, max_score: 100, min_repeats: 2, timeout: 300 },
    per_useragent: { history_size: 10, max_score: 4, min_repeats: 4, timeout: 300 },
  });
  const events: string[][] = [];
  for (let i = 0; i < 5; i++) {
    const r = rec({ url: "/login", http_user_agent: "shared" });
    const ctx = ctxFor(r, i * 1000);
    f.run(r, ctx);
    events.push(ctx.events);
  }
  assert.deepEqual(events, [[], [], [], ["hash_score_ua"], ["hash_score_ua"]]);
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
  assert.equal(f.stats().bytes, 0, "an emptied ring table is dropped");
  assert.deepEqual([hit(800), hit(801), hit(802), hit(803)], [false, false, false, true]);
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
