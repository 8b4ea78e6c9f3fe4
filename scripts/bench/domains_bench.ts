/**
 * Memory per extra domain (issue 17.3): `force_domains = *` builds a chain for every new domain
 * id. Prints bytes per extra domain for chains that share nothing (the old behaviour), chains
 * that share their read-only filters through a ComponentPool, the whole pipeline (chain, list
 * manager, counters) and what is left after idle eviction (the list manager forgets domains
 * that banned nobody, their metric series go). Target: at most 20 KB per live domain. Heap and
 * external memory come from `Deno.memoryUsage()` after a forced GC (`deno task bench` runs with
 * `--v8-flags=--expose-gc`; without it the figures include garbage and can come out negative).
 * RSS includes the Lua states' wasm memory.
 */
import { ConfigStore } from "../../src/shared/config/config_store.ts";
import { loadSettings } from "../../src/shared/config/settings.ts";
import { HttpStats } from "../../src/sensor/filters/statstore_http_stats.ts";
import { chainBuilders, type FilterEnv } from "../../src/sensor/ingest/chain_builders.ts";
import { chainObservers } from "../../src/sensor/ingest/chain_observers.ts";
import { componentKey, ComponentPool, DomainChain } from "../../src/sensor/filters/domain_chain.ts";
import { LocalRunner } from "../../src/sensor/ingest/local_runner.ts";
import { Pipeline } from "../../src/sensor/ingest/pipeline.ts";
import { ListManager } from "../../src/sensor/lm/list_manager.ts";
import { silentLogger } from "../../src/shared/log/logger.ts";
import { Metrics } from "../../src/shared/metrics/metrics.ts";
import type { RequestContext } from "../../src/sensor/filters/types.ts";
import { encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { fmt } from "./_measure.ts";
import { sampleRecord } from "./wire_bench.ts";

const gc = (globalThis as { gc?: () => void }).gc;

interface Usage {
  heap: number;
  external: number;
  rss: number;
}

async function usage(): Promise<Usage> {
  // Let finalizers and pending closes run, then collect twice (weak maps, wasm wrappers).
  await new Promise((resolve) => setTimeout(resolve, 0));
  gc?.();
  gc?.();
  const m = Deno.memoryUsage();
  return { heap: m.heapUsed, external: m.external, rss: m.rss };
}

function line(name: string, before: Usage, after: Usage, n: number): void {
  const per = (k: keyof Usage) => fmt((after[k] - before[k]) / n).padStart(9);
  const total = (after.heap - before.heap + after.external - before.external) / n;
  console.log(
    `${name.padEnd(44)} ${fmt(total).padStart(9)} B/domain  (heap ${per("heap")}, external ${
      per("external")
    }, rss ${per("rss")})`,
  );
}

async function setup(): Promise<{ store: ConfigStore; env: FilterEnv }> {
  const dir = await Deno.makeTempDir();
  const settings = loadSettings(
    `[tsng]\nfilters_config_dir = ${dir}/filters\ncomponents_config_dir = ${dir}/components\n`,
    "bench.ini",
  );
  const store = new ConfigStore(settings);
  await store.load();
  const env: FilterEnv = {
    settings,
    global: () => store.global,
    log: silentLogger,
    stats: new HttpStats(),
    offline: true,
  };
  return { store, env };
}

/** N chains on the global configuration, each run on one record; with or without a pool. */
async function chains(n: number, pool: ComponentPool | undefined): Promise<void> {
  const { store, env } = await setup();
  const builders = chainBuilders(env);
  const observers = chainObservers(env);
  const config = store.global;
  const make = async (from: number, count: number, out: DomainChain[]) => {
    for (let id = from; id < from + count; id++) {
      const chain = new DomainChain(id, builders, observers, pool ? { pool } : {});
      await chain.configure(config, componentKey(config, store.global));
      const record = sampleRecord(id);
      const ctx: RequestContext = {
        domainId: id,
        ip: "10.0.0.1",
        now: 1_700_000_000_000,
        phase: "first",
        flags: new Map(),
        events: [],
      };
      await chain.run(record, ctx);
      out.push(chain);
    }
  };
  const live: DomainChain[] = [];
  await make(1, 20, live);
  const before = await usage();
  await make(1000, n, live);
  const after = await usage();
  line(
    pool ? "chains sharing read-only filters" : "chains sharing nothing (before)",
    before,
    after,
    n,
  );
  if (pool) {
    const own = live.reduce((sum, c) => sum + c.state().bytes, 0) / live.length;
    console.log(`  own per-IP filter state (typed arrays)       ${fmt(own).padStart(9)} B/domain`);
    console.log(`  shared filter instances for ${live.length} chains:  ${pool.size}`);
  }
  for (const chain of live) await chain.close();
}

/** The whole pipeline: N one-record domains under `force_domains = *`, then idle eviction. */
async function pipeline(n: number): Promise<void> {
  const { store, env } = await setup();
  let now = 1_700_000_000_000;
  const clock = { now: () => now };
  const lm = new ListManager({ emit: () => {}, hostname: "bench", clock });
  const metrics = new Metrics();
  const series = () => metrics.render().split("\n").filter((l) => l.includes("domain=")).length;
  let pipe: Pipeline | undefined = undefined;
  const runner = new LocalRunner(env, {
    decide: (d) => pipe!.decide(d),
    drop: (r, id) => pipe!.dropped(r, id),
  });
  pipe = new Pipeline({
    store,
    lm,
    metrics,
    log: silentLogger,
    clock,
    env,
    runner,
    domainIdleMs: 600_000,
  });
  await pipe.start();
  const feed = async (from: number, count: number) => {
    for (let id = from; id < from + count; id++) {
      const pending = pipe!.handleFrames([encodeHeader(id), encodeRecord(sampleRecord(id))]);
      if (pending) await pending;
    }
  };
  await feed(1, 20);
  const before = await usage();
  await feed(1000, n);
  const after = await usage();
  line("pipeline: chain + list manager + counters", before, after, n);
  const footprint = runner.footprint();
  console.log(
    `  live chains ${footprint.chains}, shared filter instances ${footprint.shared}, ` +
      `own filter state ${fmt(footprint.bytes / footprint.chains)} B/chain, ` +
      `list manager domains ${lm.domainIds().length}, per-domain series ${series()}`,
  );
  // Eleven minutes later every one of them is idle: the next sweep drops their chains.
  now += 660_000;
  pipe.tick();
  for (let id = 1000; id < 1000 + n; id++) await pipe.settled(id);
  const evicted = await usage();
  line("pipeline after idle eviction (still held)", before, evicted, n);
  console.log(
    `  after eviction: live chains ${runner.footprint().chains}, ` +
      `list manager domains ${lm.domainIds().length}, per-domain series ${series()}`,
  );
  await pipe.close();
  await lm.close();
}

/** Prints bytes per extra domain, before and after sharing, and after eviction. */
export async function run(): Promise<void> {
  const n = 1000;
  if (!gc) console.log("(no --v8-flags=--expose-gc: figures include garbage not yet collected)");
  console.log(`${n} extra domains on the global configuration, one record each`);
  await chains(n, undefined);
  await chains(n, new ComponentPool());
  await pipeline(n);
}

if (import.meta.main) await run();
