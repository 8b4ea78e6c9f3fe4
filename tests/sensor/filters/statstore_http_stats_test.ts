import assert from "node:assert/strict";
import {
  HttpStats,
  mergeStats,
  renderPrometheus,
  statstoreHttpStats,
} from "../../../src/sensor/filters/statstore_http_stats.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";

const config = { enabled: true, skip_if: [] };

Deno.test("statstoreHttpStats() counts requests, methods, statuses and events per domain", () => {
  const f = statstoreHttpStats(config);
  const first = rec({ method: "POST" });
  const ctx = ctxFor(first, 0);
  ctx.events.push("loc_rate_def1_POST/", "many_uas");
  f.run(first, ctx);
  // The after-upstream half of the same request: a status, not another request.
  f.run(rec({ method: "POST", status: 503 }), ctxFor(rec(), 10, "response"));
  // A record whose first half already carries a status (req_type 1 arrived first).
  f.run(rec({ method: "BREW", status: 200 }), ctxFor(rec(), 20));
  f.run(rec({ status: 9999 }), { ...ctxFor(rec(), 30), domainId: 7 });
  f.stats.drop("bad_frames");
  f.stats.drop("short_body", 8984);
  const d = f.stats.snapshot().domains["8984"]!;
  assert.deepEqual(d, {
    domain_id: 8984,
    requests: 2,
    responses: 2,
    statuses: { "503": 1, "200": 1 },
    methods: { POST: 1, other: 1 },
    events: { "loc_rate_def1_POST/": 1, many_uas: 1 },
    drops: { short_body: 1 },
  });
  assert.deepEqual(f.stats.snapshot().domains["7"]!.statuses, { other: 1 });
  for (const status of [99, 100, 599, 600]) {
    f.run(rec({ status }), { ...ctxFor(rec(), 40), domainId: 9 });
  }
  assert.deepEqual(f.stats.snapshot().domains["9"]!.statuses, { other: 2, 100: 1, 599: 1 });
  assert.deepEqual(f.stats.snapshot().drops, { bad_frames: 1, short_body: 1 });
});

Deno.test("statstoreHttpStats() caps distinct event names", () => {
  const f = statstoreHttpStats(config);
  for (let i = 0; i < 1200; i++) {
    const ctx = ctxFor(rec(), i);
    ctx.events.push(`loc_rate_x_M${i}/`);
    f.run(rec(), ctx);
  }
  const events = f.stats.snapshot().domains["8984"]!.events;
  assert.equal(Object.keys(events).length, 1001);
  assert.equal(events.other, 200);
});

Deno.test("statstoreHttpStats() counts event names that Object.prototype also has", () => {
  const f = statstoreHttpStats(config);
  for (let i = 0; i < 2; i++) {
    const ctx = ctxFor(rec(), i);
    ctx.events.push("constructor", "__proto__", "toString");
    f.run(rec(), ctx);
  }
  const one = f.stats.snapshot();
  const events = one.domains["8984"]!.events;
  assert.equal(Object.getOwnPropertyDescriptor(events, "constructor")?.value, 2);
  assert.equal(Object.getOwnPropertyDescriptor(events, "__proto__")?.value, 2);
  assert.equal(Object.getOwnPropertyDescriptor(events, "toString")?.value, 2);
  const merged = mergeStats([one, f.stats.snapshot()]).domains["8984"]!.events;
  assert.equal(Object.getOwnPropertyDescriptor(merged, "constructor")?.value, 4);
  assert.equal(Object.getOwnPropertyDescriptor(merged, "__proto__")?.value, 4);
  assert.match(renderPrometheus(mergeStats([one])), /event="__proto__"\} 2/);
});

Deno.test("mergeStats() adds worker snapshots and renderPrometheus() prints valid text", () => {
  const a = new HttpStats();
  const b = new HttpStats();
  const fa = statstoreHttpStats(config, { stats: a });
  const fb = statstoreHttpStats(config, { stats: b });
  fa.run(rec({ status: 200 }), ctxFor(rec(), 0));
  fb.run(rec({ status: 200 }), ctxFor(rec(), 0));
  const ctx = ctxFor(rec(), 0);
  ctx.events.push('we"ird\\name');
  fb.run(rec(), ctx);
  b.drop("unknown_domain");
  const merged = mergeStats([a.snapshot(), b.snapshot()]);
  assert.equal(merged.domains["8984"]!.requests, 3);
  assert.equal(merged.domains["8984"]!.statuses["200"], 2);
  const text = renderPrometheus(merged);
  assert.match(text, /^qts_http_requests_total\{domain="8984"\} 3$/m);
  assert.match(text, /^qts_http_responses_total\{domain="8984",status="200"\} 2$/m);
  assert.match(text, /^qts_http_methods_total\{domain="8984",method="GET"\} 3$/m);
  assert.match(text, /^qts_filter_events_total\{domain="8984",event="we\\"ird\\\\name"\} 1$/m);
  assert.match(text, /^qts_input_dropped_total\{reason="unknown_domain"\} 1$/m);
  for (const line of text.trimEnd().split("\n")) {
    assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+\{(\w+="(?:[^"\\]|\\.)*",?)+\} \d+)$/, line);
  }
});
