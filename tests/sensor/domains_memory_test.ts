import assert from "node:assert/strict";
import { encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { emptyRecord } from "../../src/sensor/wire/record.ts";
import { domainsFixture } from "./ingest/_domains_fixture.ts";

function message(domain: number, i: number): Uint8Array[] {
  return [
    encodeHeader(domain),
    encodeRecord({
      ...emptyRecord(),
      remote_ip: 0x0a000000 + i,
      method: "GET",
      url: "/",
      host: "example.com",
      http_user_agent: "Mozilla/5.0",
      qrator_request_id: `r${domain}-${i}`,
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
    // What each domain holds of its own is its per-IP state, measured by its filters.
    const perDomain = late.bytes / late.chains;
    assert.ok(perDomain < 256 * 1024, `${perDomain} B of per-IP state per domain`);
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
    // The configured domain keeps using the shared filters; nothing of the others is left.
    assert.ok(after.shared > 0 && after.shared <= 9);
    // A dropped domain that sends again gets a fresh chain.
    await f.pipeline.handleFrames(message(2000, 5));
    assert.ok(f.pipeline.steps(2000) !== undefined);
    assert.equal(f.runner.footprint().chains, 2);
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
