import assert from "node:assert/strict";
import { manyUas } from "../../../src/sensor/filters/many_uas.ts";
import { COMPONENT_SCHEMAS } from "../../../src/shared/config/components.ts";
import { validate } from "../../../src/shared/config/schema.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";
import { seededRandom } from "../../_support/random.ts";

const config = { enabled: true, skip_if: [], max_uas: 3, window: 300, min_new_share: 0 };

function send(f: ReturnType<typeof manyUas>, ip: string, ua: string, sec: number): string[] {
  const record = rec({ ip, http_user_agent: ua });
  const ctx = ctxFor(record, sec * 1000);
  f.run(record, ctx);
  return ctx.events;
}

Deno.test("manyUas() emits many_uas only when distinct UAs exceed max_uas", () => {
  const f = manyUas(config);
  assert.deepEqual(send(f, "1.1.1.1", "a", 0), []);
  assert.deepEqual(send(f, "1.1.1.1", "b", 1), []);
  assert.deepEqual(send(f, "1.1.1.1", "c", 2), []);
  assert.deepEqual(send(f, "1.1.1.1", "a", 3), [], "a repeated UA is not a new one");
  assert.deepEqual(send(f, "1.1.1.1", "d", 4), ["many_uas"]);
  assert.deepEqual(send(f, "1.1.1.1", "a", 5), ["many_uas"], "stays over while the window holds");
  assert.deepEqual(send(f, "2.2.2.2", "z", 5), [], "other IPs are separate");
});

Deno.test("manyUas() forgets UAs last seen a full window ago", () => {
  const f = manyUas(config);
  send(f, "1.1.1.1", "a", 0);
  send(f, "1.1.1.1", "b", 0);
  send(f, "1.1.1.1", "c", 100);
  // At 300 s, a and b (seen at 0) are exactly one window old: gone.
  assert.deepEqual(send(f, "1.1.1.1", "d", 300), []);
  assert.deepEqual(send(f, "1.1.1.1", "e", 301), []);
  assert.deepEqual(send(f, "1.1.1.1", "f", 302), ["many_uas"]);
});

Deno.test("manyUas() keeps at most max_uas+1 UAs per IP and still detects rotation", () => {
  const f = manyUas(config);
  for (let i = 0; i < 50; i++) {
    const events = send(f, "1.1.1.1", `ua-${i}`, i);
    assert.deepEqual(events, i < 3 ? [] : ["many_uas"], `request ${i}`);
  }
  const stats = f.stats();
  assert.equal(stats.keys, 1);
});

Deno.test("manyUas() ignores response-phase records and IPv6 keys by address", () => {
  const f = manyUas({ ...config, max_uas: 1 });
  const r = rec({ ip: "2001:db8::1", http_user_agent: "a" });
  f.run(r, ctxFor(r, 0));
  const r2 = rec({ ip: "2001:db8::1", http_user_agent: "b" });
  const response = ctxFor(r2, 1000, "response");
  f.run(r2, response);
  assert.deepEqual(response.events, []);
  const c = ctxFor(r2, 2000);
  f.run(r2, c);
  assert.deepEqual(c.events, ["many_uas"]);
  const r3 = rec({ ip: "2001:db8::2", http_user_agent: "c" });
  const c3 = ctxFor(r3, 2000);
  f.run(r3, c3);
  assert.deepEqual(c3.events, []);
});

Deno.test("manyUas() sweep drops idle IPs and the table survives churn", () => {
  const f = manyUas(config);
  for (let i = 0; i < 5000; i++) send(f, `10.0.${i >> 8}.${i & 255}`, "a", 0);
  assert.equal(f.stats().keys, 5000);
  for (let i = 0; i < 100; i++) send(f, `10.0.${i >> 8}.${i & 255}`, "b", 200);
  f.sweep!(300_000);
  assert.equal(f.stats().keys, 100);
  // Survivors keep their state: a (0), b (200), c (250) = 3, not over.
  assert.deepEqual(send(f, "10.0.0.7", "c", 250), []);
  assert.deepEqual(send(f, "10.0.0.7", "d", 251), ["many_uas"]);
  // At 301 "a" is a window old: b, c, d remain, plus e = 4 > 3.
  assert.deepEqual(send(f, "10.0.0.7", "e", 301), ["many_uas"]);
  assert.deepEqual(send(f, "10.0.0.8", "c", 301), [], "a expired for this IP too");
  for (let i = 0; i < 5000; i++) send(f, `10.1.${i >> 8}.${i & 255}`, "a", 400);
  assert.equal(f.stats().keys, 5100);
});

Deno.test("many_uas configuration with a bad max_uas is rejected at load, by its schema", () => {
  assert.throws(
    () => validate(COMPONENT_SCHEMAS.many_uas, { ...config, max_uas: 0 }, "many_uas"),
    /many_uas\.max_uas: 0 is below the minimum 1/,
  );
});

Deno.test("manyUas() with min_new_share tells a UA rotator from a NAT gateway", () => {
  const f = manyUas({ ...config, max_uas: 10, min_new_share: 0.5 });
  // 60 people behind one address, each with their own browser, a page and its assets at a time.
  let natEvents = 0;
  let t = 0;
  for (let round = 0; round < 10; round++) {
    for (let person = 0; person < 60; person++) {
      for (let asset = 0; asset < 8; asset++) {
        natEvents += send(f, "192.0.2.10", `Mozilla/5.0 person ${person}`, t).length;
      }
      t += 1;
    }
  }
  assert.equal(natEvents, 0, "a gateway's users keep their UA: never many_uas");
  // A rotator: a new UA on every request; banned-worthy events after the share passes 0.5.
  const rotator: number[] = [];
  for (let i = 0; i < 60; i++) rotator.push(send(f, "198.51.100.7", `Mozilla/5.0 v${i}`, i).length);
  // The share of new UAs (weight 1/32) passes 0.5 at the 22nd new one in a row.
  assert.equal(rotator.slice(0, 21).reduce((a, b) => a + b, 0), 0, "not before 22 new ones");
  assert.ok(rotator.slice(21).every((n) => n === 1), "from the 22nd on, every request");
});

Deno.test("manyUas() holds no table until a request, and a sweep that empties it drops it", () => {
  const f = manyUas(config);
  assert.deepEqual(f.stats(), { keys: 0, bytes: 0 });
  send(f, "1.1.1.1", "a", 0);
  const one = f.stats().bytes;
  assert.ok(one > 0);
  // An IP's first (UA hash, time) pair lives in its entry: 16 one-UA IPs fit the first table.
  for (let i = 2; i <= 16; i++) send(f, `1.1.1.${i}`, "a", 0);
  assert.equal(f.stats().keys, 16);
  assert.equal(f.stats().bytes, one, `${f.stats().bytes} B for 16 IPs, ${one} B for one`);
  // A second UA takes a row of the overflow pool.
  send(f, "1.1.1.2", "b", 1);
  assert.ok(f.stats().bytes > one, `${f.stats().bytes} B with an overflow row`);
  f.sweep!(301_000);
  assert.deepEqual(f.stats(), { keys: 0, bytes: 0 });
  for (const [i, ua] of ["a", "b", "c", "d"].entries()) send(f, "1.1.1.1", ua, 400 + i);
  assert.deepEqual(send(f, "1.1.1.1", "e", 404), ["many_uas"], "counts again after the drop");
});

Deno.test("manyUas() spares a gateway with more browsers at once than it keeps, not a rotator", () => {
  // Defaults (10 UAs, share 0.5). 200 people behind one address, 60 of them active at any
  // moment, each loading a page with its assets (a burst of 8 requests) in turn, interleaved.
  const f = manyUas({ ...config, max_uas: 10, min_new_share: 0.5 });
  const random = seededRandom(7);
  const people = Array.from({ length: 200 }, (_, i) => `Mozilla/5.0 browser ${i}`);
  let gatewayEvents = 0;
  let warmUp = 0;
  let sec = 0;
  for (let round = 0; round < 400; round++) {
    // The first rounds: sixty browsers at once from an address never seen (a restart).
    if (round === 3) warmUp = gatewayEvents;
    const active = Array.from({ length: 60 }, (_, k) => people[(round + k) % 200]!);
    const bursts = active.flatMap((ua) => Array.from({ length: 8 }, () => ua));
    // Shuffled within the round: the bursts of 60 browsers interleave at the gateway.
    for (let i = bursts.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [bursts[i], bursts[j]] = [bursts[j]!, bursts[i]!];
    }
    for (const ua of bursts) gatewayEvents += send(f, "192.0.2.20", ua, sec).length;
    sec += 3;
  }
  assert.ok(warmUp < 5, `${warmUp} events at first: under the projection's 5 within a minute`);
  assert.equal(gatewayEvents - warmUp, 0, "the gateway's people keep their browsers");
  let rotatorEvents = 0;
  for (let i = 0; i < 300; i++) {
    rotatorEvents += send(f, "203.0.113.51", `Mozilla/5.0 Chrome/${i}.0.${i * 7}`, i).length;
  }
  assert.ok(rotatorEvents >= 250, `rotator: ${rotatorEvents} events`);
});
