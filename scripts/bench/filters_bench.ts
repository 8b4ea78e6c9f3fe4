/**
 * `deno task bench filters`: records/s through the full default chain (the embedded
 * default.conf built by the sensor's own builders: ua_parser · location_flags · fixed_lists ·
 * lua allow · lua deny (default.lua) · many_uas · limit_req_mc · trusted_sources · geo_zones ·
 * probe_detector · response_status, then the statstore and telemetry observers) against decode
 * only, in batches (`DomainChain.runBatch`, one Lua call per batch) and one record at a time;
 * the cost of each component in the chain; a Lua script that loops forever next to
 * default.lua; limit_req_mc on memcached; and the memory per tracked IP with every default
 * filter on. Rates are per second
 * of CPU time of this process. Figures next to their targets (issue 19), never pass/fail.
 */
import { decodeRecord, encodeRecord, type HttpRecord } from "../../src/sensor/wire/mod.ts";
import type { RequestContext } from "../../src/sensor/filters/types.ts";
import { CHAIN_ORDER, type DomainChain } from "../../src/sensor/filters/domain_chain.ts";
import { limitReqMc } from "../../src/sensor/filters/limit_req_mc.ts";
import { memcachedStore } from "../../src/sensor/memcached/memcached_store.ts";
import { chainBuilders } from "../../src/sensor/ingest/chain_builders.ts";
import type { ComponentName } from "../../src/shared/config/components.ts";
import { context, defaultChain, defaultConfig, DOMAIN, sample } from "./_bench_chain.ts";
import { cpuUsage } from "node:process";
import { fmt, freePort } from "./_measure.ts";

/** Records of one `runBatch` call in the batched figures. */
const BATCH = 64;

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

function line(name: string, value: string, target = ""): void {
  console.log(`${name.padEnd(60)} ${value.padStart(14)}  ${target}`);
}

/** Records/s of decode + a chain, one record at a time (`run`). */
function perRecord(chain: DomainChain, bodies: Uint8Array[], n: number, base: number): number {
  return timed(n, (i) => {
    const result = decodeRecord(bodies[i & 8191]!);
    if (!result.ok) return;
    void chain.run(result.record, context(result.record, base + i));
  });
}

/**
 * Records/s of `fn` run on batches of BATCH records (record `i` from `recordAt`, undefined to
 * leave it out), each with a fresh context.
 */
function timedBatches(
  n: number,
  base: number,
  recordAt: (i: number) => HttpRecord | undefined,
  fn: (records: HttpRecord[], ctxs: RequestContext[]) => void,
): number {
  const records: HttpRecord[] = [];
  const ctxs: RequestContext[] = [];
  return BATCH * timed(n / BATCH, (j) => {
    records.length = 0;
    ctxs.length = 0;
    for (let k = 0; k < BATCH; k++) {
      const i = j * BATCH + k;
      const record = recordAt(i);
      if (record === undefined) continue;
      records.push(record);
      ctxs.push(context(record, base + i));
    }
    fn(records, ctxs);
  });
}

/** Records/s of decode + a chain in batches of BATCH (`runBatch`). */
function batched(chain: DomainChain, bodies: Uint8Array[], n: number, base: number): number {
  return timedBatches(n, base, (i) => {
    const result = decodeRecord(bodies[i & 8191]!);
    return result.ok ? result.record : undefined;
  }, (records, ctxs) => void chain.runBatch(records, ctxs));
}

/**
 * User-Agent `i` of a flood tool that randomises them: browser shapes with random versions,
 * three in four desktop (the shapes ua_parser knows without a device parse), one an Android
 * phone (parsed).
 */
function randomisedUa(i: number): string {
  const v = `${100 + (i % 57)}.0.${4000 + ((i >> 6) % 3700)}.${i % 250}`;
  switch (i & 3) {
    case 0:
      return `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v} Safari/537.36`;
    case 1:
      return `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_${
        i % 8
      }) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${16 + (i % 11)}.${
        i % 7
      } Safari/605.1.15`;
    case 2:
      return `Mozilla/5.0 (X11; Linux x86_64; rv:${100 + (i % 60)}.0) Gecko/20100101 Firefox/${
        100 + (i % 60)
      }.0`;
    default:
      return `Mozilla/5.0 (Linux; Android ${
        10 + (i % 6)
      }; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v} Mobile Safari/537.36`;
  }
}

/** Prints the figures. */
export async function run(): Promise<void> {
  const load = Deno.loadavg()[0]!;
  line("load average (1 min) on this machine", load.toFixed(2));
  const bodies = Array.from({ length: 8192 }, (_, i) => encodeRecord(sample(i)));
  const n = 300_000;
  const base = 1_700_000_000_000;

  // Best of two: the first run of the process is often measured before the JIT settles.
  const decodeOnly = Math.max(
    ...[0, 1].map(() =>
      timed(n, (i) => {
        const result = decodeRecord(bodies[i & 8191]!);
        if (result.ok) context(result.record, base + i);
      })
    ),
  );
  line("decode only (decodeRecord + context)", `${fmt(decodeOnly)} rec/s`, "(ceiling)");
  // Decoding is lazy: text fields become strings when first read. The chain must read them,
  // so this ceiling reads the ones the default filters read, and keeps the result alive.
  let sink = 0;
  const decodeFields = Math.max(
    ...[0, 1].map(() =>
      timed(n, (i) => {
        const result = decodeRecord(bodies[i & 8191]!);
        if (!result.ok) return;
        const r = result.record;
        context(r, base + i);
        sink += r.http_user_agent.length + r.url.length + r.method.length + r.host.length;
      })
    ),
  );
  line("decode + the text fields the filters read", `${fmt(decodeFields)} rec/s`, `(${sink & 1})`);

  const chain = await defaultChain();
  const full = batched(chain, bodies, n, base);
  line(
    `decode + full default chain, batches of ${BATCH}`,
    `${fmt(full)} rec/s`,
    "target ≥ 150,000",
  );
  // Issue 19's 0.45 is its 150k over the decode-only figure of then (336k); the decoder has
  // since become ~4.7× faster, so the ratio now asks the chain for under 1 µs a record.
  line(
    "  ratio to decode only",
    `${(full / decodeOnly).toFixed(3)} ×`,
    "target ≥ 0.45 (set as 150k ÷ 336k, decode only then)",
  );
  line("  ratio to decode + text fields", `${(full / decodeFields).toFixed(3)} ×`);
  line("  chain time per record", `${((1e6 / full) - (1e6 / decodeOnly)).toFixed(2)} µs`);
  await chain.close();
  const single = await defaultChain();
  const one = perRecord(single, bodies, n, base);
  await single.close();
  line("decode + full default chain, one record at a time", `${fmt(one)} rec/s`);
  line("  ratio to decode only", `${(one / decodeOnly).toFixed(3)} ×`);

  // An HTTP flood tool's randomiser: a new User-Agent on every record, past every UA cache.
  const rotating = Array.from({ length: 65_536 }, (_, i) => {
    const record = sample(i);
    record.http_user_agent = randomisedUa(i);
    return encodeRecord(record);
  });
  const rotChain = await defaultChain();
  const rotated = timedBatches(n, base, (i) => {
    const result = decodeRecord(rotating[i & 65_535]!);
    return result.ok ? result.record : undefined;
  }, (records, ctxs) => void rotChain.runBatch(records, ctxs));
  await rotChain.close();
  line("decode + full default chain, a new User-Agent every record", `${fmt(rotated)} rec/s`);
  line("  ratio to the batched chain above", `${(rotated / full).toFixed(3)} ×`);

  await perFilter(bodies, n, base);

  // A script that loops forever beside default.lua: stopped 3 times, then skipped.
  const loopChain = await defaultChain((config) => {
    config.lua.scripts = [{ file: "default.lua" }, { file: "spin.lua" }];
    return config;
  }, { "spin.lua": `function deny_spin(req) while true do end end` });
  const withLoop = batched(loopChain, bodies, n, base);
  await loopChain.close();
  line("same chain + `while true do end` deny script, batches", `${fmt(withLoop)} rec/s`);
  // The default chain again, right after, so the ratio compares runs under the same load.
  const again = await defaultChain();
  const fullAgain = batched(again, bodies, n, base);
  await again.close();
  line("default chain, batches, measured again", `${fmt(fullAgain)} rec/s`);
  line(
    "  looping-script chain / default chain (mean of both runs)",
    `${(withLoop / ((full + fullAgain) / 2)).toFixed(3)} ×`,
  );

  await memcachedFigures(base);
  await ipMemory();
}

/**
 * µs per record of each component of the default chain where the chain runs it: the chain of
 * the components up to it (in chain order, the observers last) minus the chain before it, on
 * freshly decoded records in batches of BATCH, so each figure includes what the component
 * costs in place (the record fields it is the first to read, the flags earlier steps set, the
 * caches the others share) and the figures add up to the chain. Measured alone on records
 * decoded once, the filters summed to a third of the chain: every field read after the first
 * pass was cached, and each filter's per-IP tables had the CPU caches to themselves. Then lua
 * allow+deny alone, batched and one record a call, over decode + context.
 */
async function perFilter(bodies: Uint8Array[], n: number, base: number): Promise<void> {
  const { config } = defaultConfig();
  const order: ComponentName[] = [];
  for (const step of CHAIN_ORDER) {
    const component = step.split(":")[0] as ComponentName;
    if (!order.includes(component)) order.push(component);
  }
  const observers: ComponentName[] = ["statstore_http_stats", "telemetry_http_sampler"];
  order.push(...observers);
  const enabled = order.filter((c) => (config[c] as { enabled: boolean }).enabled);
  // The chain of the first k enabled components, for k = 0 … all; measured in five
  // interleaved rounds, best of each, so a change of load on the machine hits every prefix.
  const chains: DomainChain[] = [];
  for (let k = 0; k <= enabled.length; k++) {
    chains.push(
      await defaultChain((c) => {
        for (const name of enabled.slice(k)) (c[name] as { enabled: boolean }).enabled = false;
        return c;
      }),
    );
  }
  const best = chains.map(() => Infinity);
  for (let round = 0; round < 5; round++) {
    // Event time goes on from round to round, as it does for a running chain.
    const from = base + round * (n / 5);
    chains.forEach((chain, k) => {
      best[k] = Math.min(best[k]!, 1e6 / batched(chain, bodies, n / 5, from));
    });
  }
  for (const chain of chains) await chain.close();
  line("per component, in the chain (chain up to it − chain before it):", "");
  line("  decode + context, no component", `${best[0]!.toFixed(2)} µs/rec`);
  for (let k = 1; k <= enabled.length; k++) {
    const name = enabled[k - 1]!;
    line(
      `  ${name}${observers.includes(name) ? " (observer)" : ""}`,
      `${(best[k]! - best[k - 1]!).toFixed(2)} µs/rec`,
    );
  }
  const before = best[enabled.length]!;
  const start = best[0]!;
  line("  sum of the components (= full chain − decode)", `${(before - start).toFixed(2)} µs/rec`);

  // Lua alone: what batching saves (allow + deny), over decode + context.
  const { env } = defaultConfig();
  const steps = await chainBuilders(env).lua!(config, DOMAIN);
  const allow = steps["lua:allow"]!;
  const deny = steps["lua:deny"]!;
  const decode = (i: number) => {
    const result = decodeRecord(bodies[i & 8191]!);
    return result.ok ? result.record : undefined;
  };
  const ctxOnly = 1e6 / timedBatches(n, base, decode, () => {});
  const inBatches = timedBatches(n, base, decode, (records, ctxs) => {
    allow.runBatch!(records, ctxs);
    for (let k = 0; k < records.length; k++) deny.run(records[k]!, ctxs[k]!);
  });
  line(
    `lua allow+deny alone, batches of ${BATCH}`,
    `${(1e6 / inBatches - ctxOnly).toFixed(2)} µs/rec`,
  );
  const oneRate = timed(n, (i) => {
    const record = decode(i);
    if (record === undefined) return;
    const ctx = context(record, base + i);
    allow.run(record, ctx);
    deny.run(record, ctx);
  });
  line("lua allow+deny alone, one record a call", `${(1e6 / oneRate - ctxOnly).toFixed(2)} µs/rec`);
  await allow.close?.();
}

/** Bytes per tracked IP, every default filter on, measured in a process that can force GC. */
async function ipMemory(): Promise<void> {
  const ips = 1_000_000;
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--v8-flags=--expose-gc",
      "--allow-read",
      "--allow-env",
      "--config",
      new URL("../../deno.json", import.meta.url).pathname,
      new URL("_ip_memory.ts", import.meta.url).pathname,
      String(ips),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) {
    line("memory per tracked IP", "failed");
    return;
  }
  const result = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    n: number;
    gc: boolean;
    heapPerIp: number;
    statePerIp: number;
    byFilter: Record<string, number>;
  };
  line(
    `memory per tracked IP, every default filter on, ${fmt(result.n)} IPs`,
    "",
    result.gc ? "(after forced GC)" : "(no GC: upper bound)",
  );
  line("  heap + typed arrays grown, per IP", `${result.heapPerIp.toFixed(0)} B`, "target ≤ 300");
  line("  sum of the filters' state, per IP", `${result.statePerIp.toFixed(0)} B`, "target ≤ 300");
  for (const [name, bytes] of Object.entries(result.byFilter)) {
    line(`    ${name}`, `${bytes.toFixed(0)} B`);
  }
}

/**
 * limit_req_mc on a real memcached: one request at a time (a chain awaiting each) and 64 in
 * flight.
 */
async function memcachedFigures(base: number): Promise<void> {
  try {
    Deno.statSync("/usr/bin/memcached");
  } catch {
    line("limit_req_mc on memcached", "skipped: no memcached");
    return;
  }
  const port = freePort();
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
  }, { sharedStore: memcachedStore() });
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
