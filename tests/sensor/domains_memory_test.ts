import assert from "node:assert/strict";
import { encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { emptyRecord } from "../../src/sensor/wire/record.ts";
import { domainsFixture } from "./ingest/_domains_fixture.ts";

function message(domain: number, i: number, request = i): Uint8Array[] {
  return [
    encodeHeader(domain),
    encodeRecord({
      ...emptyRecord(),
      remote_ip: 0x0a000000 + i,
      method: "GET",
      url: "/",
      host: "example.com",
      http_user_agent: "Mozilla/5.0",
      qrator_request_id: `r${domain}-${request}`,
    }),
  ];
}

async function feed(
  f: { pipeline: { handleFrames(m: Uint8Array[]): void | Promise<void> } },
  from: number,
  n: number,
) {
  for (let id = from; id < from + n; id++) await f.pipeline.handleFrames(message(id, id));
}

Deno.test("Pipeline under force_domains = * shares one set of read-only filters across 2,000 one-record domains (issue 17.3)", async () => {
  const f = await domainsFixture();
  try {
    await feed(f, 1000, 10);
    const early = f.runner.footprint();
    await feed(f, 2000, 2000);
    const late = f.runner.footprint();
    assert.equal(late.chains, 2010);
    // One Lua state, one compiled list set… for all of them: the pool does not grow.
    assert.equal(late.shared, early.shared);
    assert.ok(late.shared <= 9, `${late.shared} shared instances`);
    assert.equal(f.pipeline.autoDomains(), 2010);
    // What each domain holds of its own is its per-IP state, made on first use: one client in
    // many_uas and in the one limit_req_mc zone its GET matched; no table for the login zone or
    // the response_status rules its records never reached (14,304 B each when made up front).
    assert.equal(late.keys, 2 * late.chains);
    const perDomain = late.bytes / late.chains;
    assert.ok(perDomain <= 2048, `${perDomain} B of per-IP state per domain`);
    // No configuration object per domain: they all run on the global one.
    assert.equal(f.store.domainConfig(2500), f.store.global);
  } finally {
    await f.close();
  }
});

Deno.test("Pipeline drops the chains of idle domains without a configuration of their own", async () => {
  const f = await domainsFixture({ domains: { 7: {} }, domainIdleMs: 600_000 });
  try {
    await feed(f, 2000, 2000);
    await f.pipeline.handleFrames(message(7, 1));
    assert.equal(f.runner.footprint().chains, 2001);
    // Eleven minutes on: the configured domain stays, the 2,000 others are dropped.
    f.clock.at += 660_000;
    f.pipeline.tick();
    for (let id = 2000; id < 4000; id++) await f.pipeline.settled(id);
    const after = f.runner.footprint();
    assert.equal(after.chains, 1);
    assert.ok(f.pipeline.steps(7) !== undefined);
    assert.equal(f.pipeline.steps(2000), undefined);
    assert.equal(f.pipeline.autoDomains(), 0);
    assert.equal(f.metrics.get("qts_domains_evicted_total"), 2000);
    // The configured domain keeps using the shared filters; nothing of the others is left: no
    // list manager state (they banned nobody), no metric series.
    assert.ok(after.shared > 0 && after.shared <= 9);
    assert.deepEqual(f.lm.domainIds(), [7]);
    const series = f.metrics.render().split("\n").filter((l) => l.includes("domain=")).length;
    assert.ok(series > 0 && series <= 4, `${series} per-domain series left`);
    assert.match(f.metrics.render(), /qts_records_total\{domain="7"\} 1/);
    // A dropped domain that sends again gets a fresh chain, projections and counters.
    await f.pipeline.handleFrames(message(2000, 5));
    assert.ok(f.pipeline.steps(2000) !== undefined);
    assert.equal(f.runner.footprint().chains, 2);
    assert.deepEqual(f.lm.domainIds(), [7, 2000]);
    assert.equal(f.metrics.get("qts_records_total", { domain: 2000 }), 1);
  } finally {
    await f.close();
  }
});

Deno.test("Pipeline eviction keeps the list manager state of a domain that banned until it expires", async () => {
  // Every rejected request bans (one event is enough): the domain holds an active ban.
  const lm = JSON.stringify({
    lists: [],
    use_component_projections: false,
    projections: [{
      name: "rate",
      events: "^loc_rate_",
      rule_name: "tsng.rate",
      state: "enabled",
      timeout: 1200,
    }],
  });
  const f = await domainsFixture({ domainIdleMs: 600_000, components: { "lm.json": lm } });
  try {
    // def1 admits 2r/s with burst 40: the 42nd request at one instant is rejected.
    for (let i = 0; i < 45; i++) await f.pipeline.handleFrames(message(300, 300, i));
    await feed(f, 400, 1);
    assert.deepEqual(f.commands, [{ cmd: "add", ip: "10.0.1.44" }]);
    f.clock.at += 660_000;
    f.pipeline.tick();
    for (const id of [300, 400]) await f.pipeline.settled(id);
    assert.equal(f.runner.footprint().chains, 0);
    assert.deepEqual(f.lm.domainIds(), [300], "its ban is active: no del, state kept");
    assert.equal(f.lm.bans(300).length, 1);
    // Past the ban's 20 minutes the next tick forgets it, still without a del.
    f.clock.at += 600_000;
    f.pipeline.tick();
    assert.deepEqual(f.lm.domainIds(), []);
    assert.deepEqual(f.commands.map((c) => c.cmd), ["add"]);
  } finally {
    await f.close();
  }
});

Deno.test("Pipeline keeps an active domain past the idle time of the others", async () => {
  const f = await domainsFixture({ domainIdleMs: 600_000 });
  try {
    await feed(f, 100, 3);
    f.clock.at += 400_000;
    await f.pipeline.handleFrames(message(101, 9));
    f.clock.at += 400_000;
    f.pipeline.tick();
    for (const id of [100, 101, 102]) await f.pipeline.settled(id);
    assert.equal(f.pipeline.steps(100), undefined);
    assert.ok(f.pipeline.steps(101) !== undefined);
    assert.equal(f.pipeline.steps(102), undefined);
  } finally {
    await f.close();
  }
});

Deno.test("Pipeline drops and counts records of new domains past domain_cap", async () => {
  const f = await domainsFixture({ domains: { 7: {} }, domainCap: 5, domainIdleMs: 600_000 });
  try {
    await feed(f, 100, 8);
    assert.equal(f.metrics.get("qts_input_dropped_total", { reason: "domain_cap" }), 3);
    assert.equal(f.pipeline.autoDomains(), 5);
    assert.equal(f.pipeline.steps(105), undefined);
    // Domains already in keep going, and a domain with its own configuration is never refused.
    await f.pipeline.handleFrames(message(100, 2));
    await f.pipeline.handleFrames(message(7, 2));
    assert.equal(f.metrics.get("qts_input_dropped_total", { reason: "domain_cap" }), 3);
    assert.equal(f.metrics.get("qts_records_total", { domain: 7 }), 1);
    // Once the idle ones are dropped there is room again.
    f.clock.at += 660_000;
    f.pipeline.tick();
    for (let id = 100; id < 105; id++) await f.pipeline.settled(id);
    await f.pipeline.handleFrames(message(106, 1));
    assert.ok(f.pipeline.steps(106) !== undefined);
    assert.equal(f.metrics.get("qts_input_dropped_total", { reason: "domain_cap" }), 3);
  } finally {
    await f.close();
  }
});
