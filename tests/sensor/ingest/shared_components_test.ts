import assert from "node:assert/strict";
import {
  completeComponents,
  componentsFromObject,
  EMBEDDED_DEFAULT_CONF,
  parseDefaultConf,
} from "../../../src/shared/config/load_components.ts";
import type { DomainConfig } from "../../../src/shared/config/components.ts";
import { loadSettings } from "../../../src/shared/config/settings.ts";
import { HttpStats } from "../../../src/sensor/filters/statstore_http_stats.ts";
import {
  componentKey,
  ComponentPool,
  DomainChain,
} from "../../../src/sensor/filters/domain_chain.ts";
import type { RequestContext } from "../../../src/sensor/filters/types.ts";
import { chainBuilders } from "../../../src/sensor/ingest/chain_builders.ts";
import { chainObservers } from "../../../src/sensor/ingest/chain_observers.ts";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import { emptyRecord, type HttpRecord } from "../../../src/sensor/wire/record.ts";

const global = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf");
// A script with a global: how many requests this Lua state has seen.
const COUNTING = `function deny_second(req) seen = (seen or 0) + 1; return seen == 2 end\n`;

function configOf(own: unknown): DomainConfig {
  return completeComponents(componentsFromObject(own, "test"), global);
}

async function setup() {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/counting.lua`, COUNTING);
  const settings = loadSettings(`[tsng]\ncomponents_config_dir = ${dir}\nstate_dir =\n`, "t.ini");
  const env = { settings, global: () => global, log: silentLogger, stats: new HttpStats() };
  const pool = new ComponentPool();
  let luaBuilds = 0;
  const builders = chainBuilders({ ...env, offline: true });
  const lua = builders.lua!;
  builders.lua = (config, id) => (luaBuilds++, lua(config, id));
  const chain = async (id: number, config: DomainConfig) => {
    const c = new DomainChain(id, builders, chainObservers(env), { pool });
    await c.configure(config, componentKey(config, global));
    return c;
  };
  return { dir, pool, chain, luaBuilds: () => luaBuilds };
}

function run(chain: DomainChain, ip: string, now: number, record: Partial<HttpRecord> = {}) {
  const ctx: RequestContext = {
    domainId: chain.domainId,
    ip,
    now,
    phase: "first",
    flags: new Map(),
    events: [],
  };
  const [a, b, c, d] = ip.split(".").map(Number) as [number, number, number, number];
  const full = {
    ...emptyRecord(),
    method: "GET",
    url: "/",
    remote_ip: ((a << 24) | (b << 16) | (c << 8) | d) >>> 0,
    ...record,
  };
  const pending = chain.run(full, ctx);
  assert.equal(pending, undefined);
  return ctx.events;
}

Deno.test("DomainChain shares one Lua state between domains on one lua configuration: its globals too", async () => {
  const s = await setup();
  const config = configOf({ lua: { scripts: [{ file: "counting.lua" }] } });
  const other = configOf({
    lua: { scripts: [{ file: "counting.lua" }], instruction_budget: 12345 },
  });
  const a = await s.chain(1, config);
  const b = await s.chain(2, configOf({ lua: { scripts: [{ file: "counting.lua" }] } }));
  const c = await s.chain(3, other);
  try {
    assert.equal(s.luaBuilds(), 2);
    assert.deepEqual(run(a, "192.0.2.1", 1000), []);
    // Domain 2 runs in the same state: the script's global already counts domain 1's request.
    assert.deepEqual(run(b, "192.0.2.1", 1000), ["lua_second"]);
    // Another lua configuration is another state, with globals of its own.
    assert.deepEqual(run(c, "192.0.2.1", 1000), []);
  } finally {
    await a.close();
    await b.close();
    await c.close();
    await Deno.remove(s.dir, { recursive: true });
  }
  assert.equal(s.pool.size, 0);
});

Deno.test("DomainChain keeps per-IP filter state per domain while sharing the rest", async () => {
  const s = await setup();
  const config = configOf({
    lua: { enabled: false },
    limit_req_mc: {
      enabled: true,
      configurations: [{ name: "z", rate: "1r/m", burst: 0, nodelay: true }],
    },
  });
  const a = await s.chain(1, config);
  const b = await s.chain(2, config);
  try {
    assert.deepEqual(run(a, "192.0.2.9", 1000), []);
    // The same client's first request to another domain is not its second request.
    assert.deepEqual(run(b, "192.0.2.9", 1001), []);
    assert.deepEqual(run(a, "192.0.2.9", 1002), ["loc_rate_z_GET/"]);
    assert.ok(a.state().own >= 1 && a.state().shared >= 1);
    assert.ok(a.state().keys >= 1);
  } finally {
    await a.close();
    // Shared filters stay while a chain still uses them, and close with the last one.
    assert.ok(s.pool.size > 0);
    assert.deepEqual(run(b, "192.0.2.9", 1003), ["loc_rate_z_GET/"]);
    await b.close();
    await Deno.remove(s.dir, { recursive: true });
  }
  assert.equal(s.pool.size, 0);
});

Deno.test("DomainChain.configure() replaces a shared component by letting go of the old one", async () => {
  const s = await setup();
  const first = configOf({ lua: { scripts: [{ file: "counting.lua" }] } });
  const second = configOf({
    lua: { scripts: [{ file: "counting.lua" }], instruction_budget: 7777 },
  });
  const a = await s.chain(1, first);
  try {
    const before = s.pool.size;
    await a.configure(second, componentKey(second, global));
    assert.equal(s.pool.size, before);
    assert.equal(s.luaBuilds(), 2);
  } finally {
    await a.close();
    await Deno.remove(s.dir, { recursive: true });
  }
  assert.equal(s.pool.size, 0);
});
