/**
 * `deno task bench filters`: records/s through the filters of issue 6 in the default chain
 * order (ua_parser · lua allow · lua deny · many_uas · limit_req_mc · request_hash_score, then
 * the statstore and telemetry observers) with the shipped default.lua, against decode-only;
 * the cost of each filter alone; a Lua script that loops forever next to default.lua; and the
 * bytes of per-IP state with 1M distinct IPs. Rates are per second of CPU time of this process.
 * Figures only, never pass/fail.
 */
import {
  decodeRecord,
  emptyRecord,
  encodeRecord,
  type HttpRecord,
} from "../../src/sensor/wire/mod.ts";
import { clientAddress } from "../../src/sensor/wire/record.ts";
import type { FilterInstance, RequestContext } from "../../src/sensor/filters/types.ts";
import { uaParser } from "../../src/sensor/filters/ua_parser.ts";
import { lua } from "../../src/sensor/filters/lua.ts";
import { manyUas } from "../../src/sensor/filters/many_uas.ts";
import { limitReqMc } from "../../src/sensor/filters/limit_req_mc.ts";
import { requestHashScore } from "../../src/sensor/filters/request_hash_score.ts";
import { statstoreHttpStats } from "../../src/sensor/filters/statstore_http_stats.ts";
import { telemetryHttpSampler } from "../../src/sensor/filters/telemetry_http_sampler.ts";
import type { LuaConfig } from "../../src/shared/config/components.ts";
import { cpuUsage } from "node:process";

const UAS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "curl/8.5.0",
  "python-requests/2.31.0",
  "",
];
const METHODS = ["GET", "GET", "GET", "GET", "POST", "HEAD", "GET", "PROPFIND"];

function sample(i: number): HttpRecord {
  return {
    ...emptyRecord(),
    timestamp: 1_700_000_000 + (i >> 10),
    remote_ip: (0x0a000000 + ((i * 7919) % 50_000)) >>> 0,
    geo: "US",
    method: METHODS[i % METHODS.length]!,
    url: i % 97 === 0 ? "/healthz" : `/catalog/item/${i % 5000}?ref=home`,
    version: "HTTP/1.1",
    referer: "https://example.com/",
    host: "example.com",
    accept: "text/html",
    accept_encoding: "gzip, deflate, br",
    cookie: "session=0123456789abcdef; theme=dark",
    http_user_agent: UAS[(i >> 3) % UAS.length]! + (i % 13 === 0 ? ` r${i % 400}` : ""),
    request: `GET /catalog/item/${i % 5000}?ref=home HTTP/1.1`,
    qrator_request_id: `req${i}`,
    server_port: "443",
    remote_port: String(30000 + (i % 30000)),
    headers: "Accept: text/html\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive",
  };
}

const luaConfig = (...files: string[]): LuaConfig => ({
  enabled: true,
  skip_if: [],
  scripts: files.map((file) => ({ file })),
  instruction_budget: 100_000,
  memory_limit_mb: 64,
});

async function chainOf(extraLua?: string): Promise<FilterInstance[]> {
  const common = { enabled: true, skip_if: [] };
  const scripts = extraLua === undefined ? ["default.lua"] : ["default.lua", "extra.lua"];
  const luaPair = await lua(luaConfig(...scripts), {
    readFile: (name) =>
      name === "extra.lua" && extraLua !== undefined
        ? Promise.resolve(extraLua)
        : Promise.reject(new Deno.errors.NotFound(name)),
  });
  return [
    uaParser({ ...common, events: [], cache_size: 10_000 }),
    luaPair.allow,
    luaPair.deny,
    manyUas({ ...common, max_uas: 10, window: 300, min_new_share: 0 }),
    limitReqMc({
      ...common,
      backend: "local",
      servers: [],
      timeout_ms: 50,
      ipv6_prefix: 64,
      configurations: [{
        name: "def1",
        host: "",
        method: "",
        path: "",
        location: "/",
        key: "ip",
        rate: "10r/s",
        burst: 20,
        nodelay: true,
      }],
    }),
    requestHashScore({
      ...common,
      per_ip: { history_size: 40, max_score: 20, min_repeats: 3, timeout: 300 },
      per_useragent: { history_size: 20, max_score: 10, min_repeats: 3, timeout: 300 },
    }),
    statstoreHttpStats(common),
    telemetryHttpSampler({ ...common, rate: 0.001, file: "" }, { publish: () => {} }),
  ];
}

function context(record: HttpRecord, now: number): RequestContext {
  return {
    domainId: 8984,
    ip: clientAddress(record),
    now,
    phase: "first",
    flags: new Map(),
    events: [],
  };
}

/**
 * Operations per second of this process's CPU time (user + system), not wall time: the
 * machine is shared, and CPU time is what one core would give when the others are busy.
 */
function timed(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(i);
  const start = cpuUsage();
  for (let i = 0; i < n; i++) fn(i);
  const used = cpuUsage(start);
  return n / ((used.user + used.system) / 1e6);
}

function line(name: string, value: string): void {
  console.log(`${name.padEnd(58)} ${value.padStart(14)}`);
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** Prints the figures. */
export async function run(): Promise<void> {
  const load = Deno.loadavg()[0]!;
  line("load average (1 min) on this machine", load.toFixed(2));
  const bodies = Array.from({ length: 8192 }, (_, i) => encodeRecord(sample(i)));
  const n = 300_000;
  const base = 1_700_000_000_000;

  const decodeOnly = timed(n, (i) => {
    const result = decodeRecord(bodies[i & 8191]!);
    if (result.ok) context(result.record, base + i);
  });
  line("decode-only (decodeRecord + context)", `${fmt(decodeOnly)} rec/s`);

  // Records/s of decode + a whole chain, each record with a fresh context.
  const chainRate = (filters: FilterInstance[]) =>
    timed(n, (i) => {
      const result = decodeRecord(bodies[i & 8191]!);
      if (!result.ok) return;
      const ctx = context(result.record, base + i);
      for (const filter of filters) filter.run(result.record, ctx);
    });
  const chain = await chainOf();
  const full = chainRate(chain);
  line("decode + all issue-6 filters, default order, default.lua", `${fmt(full)} rec/s`);
  line("  ratio to decode-only", `${(full / decodeOnly).toFixed(3)} ×`);
  line("  filter time per record", `${((1e6 / full) - (1e6 / decodeOnly)).toFixed(2)} µs`);

  // Each filter alone on decoded records (fresh instances, same stream).
  const decoded = bodies.map((b) => {
    const r = decodeRecord(b);
    if (!r.ok) throw new Error("bench record does not decode");
    return r.record;
  });
  const names = [
    "ua_parser",
    "lua allow",
    "lua deny",
    "many_uas",
    "limit_req_mc",
    "request_hash_score",
    "statstore",
    "telemetry",
  ];
  const alone = await chainOf();
  const empty = timed(n, (i) => context(decoded[i & 8191]!, base + i));
  line("  context only (baseline of the lines below)", `${(1e6 / empty).toFixed(2)} µs/rec`);
  for (let k = 0; k < alone.length; k++) {
    const filter = alone[k]!;
    const rate = timed(n, (i) => {
      const record = decoded[i & 8191]!;
      filter.run(record, context(record, base + i));
    });
    line(`  ${names[k]} alone, with context`, `${(1e6 / rate).toFixed(2)} µs/rec`);
  }
  for (const filter of [...chain, ...alone]) await filter.close?.();

  // A script that loops forever beside default.lua: stopped 3 times, then skipped.
  const loopChain = await chainOf(`function deny_spin(req) while true do end end`);
  const withLoop = chainRate(loopChain);
  line("same chain + `while true do end` deny script", `${fmt(withLoop)} rec/s`);
  for (const filter of loopChain) await filter.close?.();
  // The default chain again, right after, so the ratio compares runs under the same load.
  const again = await chainOf();
  const fullAgain = chainRate(again);
  for (const filter of again) await filter.close?.();
  line("default chain, measured again", `${fmt(fullAgain)} rec/s`);
  line(
    "  looping-script chain / default chain (mean of both runs)",
    `${(withLoop / ((full + fullAgain) / 2)).toFixed(3)} ×`,
  );

  await memcachedFigures(base);

  // Per-IP state with 1M distinct IPs.
  const million = 1_000_000;
  const common = { enabled: true, skip_if: [] };
  const states = [
    ["many_uas (max_uas 10)", manyUas({ ...common, max_uas: 10, window: 300, min_new_share: 0 })],
    [
      "limit_req_mc local (1 configuration)",
      limitReqMc({
        ...common,
        backend: "local",
        servers: [],
        timeout_ms: 50,
        ipv6_prefix: 64,
        configurations: [{
          name: "m",
          host: "",
          method: "",
          path: "",
          location: "/",
          key: "ip",
          rate: "10r/s",
          burst: 5,
          nodelay: false,
        }],
      }),
    ],
    [
      "request_hash_score per_ip (history 40)",
      requestHashScore({
        ...common,
        per_ip: { history_size: 40, max_score: 20, min_repeats: 3, timeout: 300 },
        per_useragent: { history_size: 20, max_score: 10, min_repeats: 3, timeout: 300 },
      }),
    ],
  ] as const;
  const record = sample(0);
  for (const [label, filter] of states) {
    const start = performance.now();
    for (let i = 0; i < million; i++) {
      record.remote_ip = (0x0b000000 + i) >>> 0;
      record.url = `/p${i & 7}`;
      filter.run(record, context(record, base + i));
    }
    const seconds = (performance.now() - start) / 1000;
    const { keys, bytes } = filter.stats();
    line(`${label}: bytes per IP at ${fmt(keys)} IPs`, `${(bytes / keys).toFixed(0)} B`);
    line(`  inserts`, `${fmt(million / seconds)} IP/s`);
    await filter.close?.();
  }
}

/** limit_req_mc on a real memcached: one request at a time (a chain awaiting each) and 64 in flight. */
async function memcachedFigures(base: number): Promise<void> {
  try {
    Deno.statSync("/usr/bin/memcached");
  } catch {
    line("limit_req_mc on memcached", "skipped: no memcached");
    return;
  }
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const child = new Deno.Command("/usr/bin/memcached", {
    args: ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-u", "root"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const f = limitReqMc({
    enabled: true,
    skip_if: [],
    backend: "memcached",
    servers: [`127.0.0.1:${port}`],
    timeout_ms: 1000,
    ipv6_prefix: 64,
    configurations: [{
      name: "mc",
      host: "",
      method: "",
      path: "",
      location: "/",
      key: "ip",
      rate: "10r/s",
      burst: 5,
      nodelay: true,
    }],
  });
  try {
    // memcached needs a moment to listen; the client reconnects with backoff until it does.
    for (let i = 0; i < 100; i++) {
      await f.ready();
      const record = sample(i);
      await f.run(record, context(record, base));
      if (f.counters().shared > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const n = 20_000;
    let start = performance.now();
    for (let i = 0; i < n; i++) {
      const record = sample(i);
      await f.run(record, context(record, base + i));
    }
    const sequential = n / ((performance.now() - start) / 1000);
    start = performance.now();
    for (let i = 0; i < n; i += 64) {
      const batch: (void | Promise<void>)[] = [];
      for (let j = i; j < i + 64; j++) {
        const record = sample(j);
        batch.push(f.run(record, context(record, base + n + j)));
      }
      await Promise.all(batch);
    }
    const pipelined = n / ((performance.now() - start) / 1000);
    const { shared, fallback } = f.counters();
    line("limit_req_mc on memcached, one at a time (wall)", `${fmt(sequential)} rec/s`);
    line("limit_req_mc on memcached, 64 in flight (wall)", `${fmt(pipelined)} rec/s`);
    line("  decided by memcached / locally", `${fmt(shared)} / ${fmt(fallback)}`);
  } finally {
    await f.close?.();
    child.kill("SIGKILL");
    await child.status;
  }
}

if (import.meta.main) await run();
