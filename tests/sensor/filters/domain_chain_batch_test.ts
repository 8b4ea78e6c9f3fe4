import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigStore } from "../../../src/shared/config/config_store.ts";
import { loadSettings } from "../../../src/shared/config/settings.ts";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import { componentKey, DomainChain } from "../../../src/sensor/filters/domain_chain.ts";
import { HttpStats } from "../../../src/sensor/filters/statstore_http_stats.ts";
import type { RequestContext } from "../../../src/sensor/filters/types.ts";
import { chainBuilders, type FilterEnv } from "../../../src/sensor/ingest/chain_builders.ts";
import { chainObservers } from "../../../src/sensor/ingest/chain_observers.ts";
import { RequestJoin } from "../../../src/sensor/ingest/request_join.ts";
import { expandRequests, type TimedRecord } from "../../../src/sensor/replay/expand_requests.ts";
import { type Fixture, parseFixture } from "../../../src/sensor/replay/fixture.ts";
import { pcapRequests } from "../../../src/sensor/replay/pcap_requests.ts";
import { readAccessLog } from "../../../src/sensor/replay/read_access_log.ts";
import { clientAddress, type HttpRecord } from "../../../src/sensor/wire/record.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url);
const SWEEP_MS = 30_000;

/** What the chain decided for one record: its phase, events and the flags set to true. */
type Outcome = [phase: string, events: string[], flags: string[]];

/** A fixture's records in time order (as the replay sends them). */
async function recordsOf(fixture: Fixture): Promise<TimedRecord[]> {
  const parts: TimedRecord[][] = [expandRequests(fixture.requests, fixture.start)];
  for (const log of fixture.logs) {
    const items: TimedRecord[] = [];
    for await (const item of readAccessLog(log.file, { format: log.format, domain: log.domain })) {
      items.push(item);
    }
    parts.push(items);
  }
  for (const pcap of fixture.pcaps) {
    parts.push((await pcapRequests(pcap.file, pcap.domain)).records);
  }
  return parts.flat().map((item, order) => ({ item, order }))
    .sort((a, b) => a.item.t - b.item.t || a.order - b.order)
    .map((x) => x.item);
}

/** The fixture's configuration written as the replay writes it, loaded by a ConfigStore. */
async function storeOf(fixture: Fixture, dir: string): Promise<ConfigStore> {
  const config = fixture.config;
  await Deno.mkdir(join(dir, "filters"));
  await Deno.mkdir(join(dir, "components"));
  for (const [name, text] of Object.entries(config.files)) {
    await Deno.writeTextFile(join(dir, "components", name), text);
  }
  for (const [name, value] of Object.entries(config.components)) {
    await Deno.writeTextFile(join(dir, "components", `${name}.json`), JSON.stringify(value));
  }
  for (const [id, value] of config.domains) {
    await Deno.writeTextFile(join(dir, "filters", `${id}.json`), JSON.stringify(value));
  }
  const ini = Object.entries(config.settings).map(([section, keys]) =>
    `[${section}]\n` + Object.entries(keys).map(([k, v]) => `${k} = ${v}\n`).join("")
  ).join("");
  const settings = loadSettings(ini, "fixture");
  Object.assign(settings, {
    filters_config_dir: [join(dir, "filters")],
    components_config_dir: join(dir, "components"),
    geoip_db: "",
  });
  const store = new ConfigStore(settings);
  await store.load();
  return store;
}

/**
 * Runs every record through fresh chains, one record at a time (`run`) or in batches of up to
 * `batch` consecutive records of one domain (`runBatch`), with the ingest side's request join
 * and a sweep every 30 s of event time at the same records in both modes.
 */
async function outcomes(
  store: ConfigStore,
  records: readonly TimedRecord[],
  batch: number,
): Promise<Outcome[]> {
  const env: FilterEnv = {
    settings: store.settings,
    global: () => store.global,
    log: silentLogger,
    stats: new HttpStats(),
    offline: true,
  };
  const builders = chainBuilders(env);
  const observers = chainObservers(env);
  const chains = new Map<number, DomainChain>();
  const chainOf = async (domain: number): Promise<DomainChain> => {
    let chain = chains.get(domain);
    if (chain === undefined) {
      chain = new DomainChain(domain, builders, observers);
      const config = store.domainConfig(domain);
      await chain.configure(
        config,
        componentKey(config, store.global, store.settings.components_config_dir),
      );
      chains.set(domain, chain);
    }
    return chain;
  };
  const join = new RequestJoin();
  const out: Outcome[] = [];
  let pending: { domain: number; records: HttpRecord[]; ctxs: RequestContext[] } | undefined;
  const flush = async () => {
    if (pending === undefined) return;
    const chain = await chainOf(pending.domain);
    const results = batch === 1
      ? pending.records.map((r, i) => chain.run(r, pending!.ctxs[i]!))
      : chain.runBatch(pending.records, pending.ctxs);
    await Promise.all(results);
    for (const ctx of pending.ctxs) {
      const flags = [...ctx.flags].filter(([, on]) => on).map(([name]) => name).sort();
      out.push([ctx.phase, [...ctx.events], flags]);
    }
    pending = undefined;
  };
  let nextSweep = NaN;
  for (const { domain, t, record } of records) {
    const now = Math.round(t * 1000);
    if (Number.isNaN(nextSweep)) nextSweep = now + SWEEP_MS;
    if (now >= nextSweep) {
      await flush();
      for (const chain of chains.values()) chain.sweep(now);
      join.expire(now);
      nextSweep = now + SWEEP_MS;
    }
    let phase: "first" | "response" = "first";
    if (record.qrator_request_id !== "") {
      const kind = join.classify(`${domain}:${record.qrator_request_id}`, record.req_type, now);
      if (kind === "duplicate") {
        out.push(["duplicate", [], []]);
        continue;
      }
      phase = kind;
    }
    if (pending !== undefined && (pending.domain !== domain || pending.records.length >= batch)) {
      await flush();
    }
    pending ??= { domain, records: [], ctxs: [] };
    pending.records.push(record);
    pending.ctxs.push({
      domainId: domain,
      ip: clientAddress(record),
      now,
      phase,
      flags: new Map(),
      events: [],
    });
  }
  await flush();
  for (const chain of chains.values()) await chain.close();
  return out;
}

const fixtureNames = [...Deno.readDirSync(FIXTURES)]
  .filter((e) => e.isDirectory && /^(detection-|lua-)/.test(e.name))
  .map((e) => e.name)
  .sort();

Deno.test("DomainChain.runBatch() decides every detection and lua fixture as run() does", async () => {
  assert.ok(fixtureNames.length >= 10, `fixtures found: ${fixtureNames.join(", ")}`);
  let events = 0;
  let luaEvents = 0;
  let whitelisted = 0;
  let total = 0;
  for (const name of fixtureNames) {
    const file = new URL(`${name}/fixture.yaml`, FIXTURES).pathname;
    const fixture = parseFixture(await Deno.readTextFile(file), file);
    const records = await recordsOf(fixture);
    const dir = await Deno.makeTempDir({ prefix: "qts-batch-" });
    try {
      const store = await storeOf(fixture, dir);
      const one = await outcomes(store, records, 1);
      // 64 as the ingest side would batch, 7 so batches break at odd places.
      for (const size of [64, 7]) {
        const batched = await outcomes(store, records, size);
        assert.equal(batched.length, one.length, `${name}: records decided`);
        for (let i = 0; i < one.length; i++) {
          assert.deepEqual(batched[i], one[i], `${name}, batches of ${size}: record ${i}`);
        }
      }
      total += one.length;
      for (const [, evs, flags] of one) {
        events += evs.length;
        luaEvents += evs.filter((e) => e.startsWith("lua_")).length;
        if (flags.includes("whitelisted")) whitelisted++;
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  // The comparison means something: the fixtures make events, Lua's among them, and whitelist.
  assert.ok(total > 10_000, `${total} records`);
  assert.ok(events > 1000, `${events} events`);
  assert.ok(luaEvents > 0, `${luaEvents} lua events`);
  assert.ok(whitelisted > 0, `${whitelisted} whitelisted requests`);
});
