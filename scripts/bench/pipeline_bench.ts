import { ConfigStore } from "../../src/shared/config/config_store.ts";
import { loadSettings } from "../../src/shared/config/settings.ts";
import { HttpStats } from "../../src/sensor/filters/statstore_http_stats.ts";
import type { RunnerSinks } from "../../src/sensor/ingest/chain_runner.ts";
import { Pipeline } from "../../src/sensor/ingest/pipeline.ts";
import { WorkerRunner } from "../../src/sensor/ingest/worker_runner.ts";
import { ListManager } from "../../src/sensor/lm/list_manager.ts";
import { silentLogger } from "../../src/shared/log/logger.ts";
import { Metrics } from "../../src/shared/metrics/metrics.ts";
import { decodeRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { opsPerSecond, ratio, report } from "./_measure.ts";
import { sampleRecord } from "./wire_bench.ts";

/** A pipeline in this process on a temp config dir, with commands counted, not sent. */
async function pipelineWith(
  domainJson: unknown,
  workers = 0,
): Promise<{ pipeline: Pipeline; commands: () => number; runner?: WorkerRunner }> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/filters`);
  await Deno.writeTextFile(`${dir}/filters/8984.json`, JSON.stringify(domainJson));
  const settings = loadSettings(
    `[tsng]\nfilters_config_dir = ${dir}/filters\ncomponents_config_dir = ${dir}/components\n`,
    "bench.ini",
  );
  const store = new ConfigStore(settings);
  await store.load();
  let commands = 0;
  let now = 1_700_000_000_000;
  const clock = { now: () => now, observe: () => void (now += 0.05) };
  const lm = new ListManager({ emit: () => void commands++, hostname: "bench", clock });
  const env = { settings, global: () => store.global, log: silentLogger, stats: new HttpStats() };
  const sinks: RunnerSinks = {
    decide: (d) => pipeline.decide(d),
    drop: (r, id) => pipeline.dropped(r, id),
  };
  const runner = workers > 0
    ? new WorkerRunner({ workers, settings, global: store.global, logLevel: "error", sinks })
    : undefined;
  const pipeline: Pipeline = new Pipeline({
    store,
    lm,
    metrics: new Metrics(),
    log: silentLogger,
    clock,
    env,
    ...(runner ? { runner } : {}),
  });
  await pipeline.start();
  return { pipeline, commands: () => commands, ...(runner ? { runner } : {}) };
}

function messages(count: number, ips: number): Uint8Array[][] {
  const header = encodeHeader(8984);
  return Array.from({ length: count }, (_, i) => {
    const record = sampleRecord(i);
    // Public sources (11/8): a private one is flagged private_source and skips the detectors.
    record.remote_ip = (0x0b000000 + (i * 7919) % ips) >>> 0;
    return [header, encodeRecord(record)];
  });
}

/** Records/s through the chain vs decode-only (issues 5 and 6). */
export async function run(): Promise<void> {
  const n = 200_000;
  const msgs = messages(8192, 50_000);
  let sink = 0;
  const decodeOnly = opsPerSecond(n, (i) => {
    const r = decodeRecord(msgs[i & 8191]![1]!);
    if (r.ok) sink += r.record.url.length;
  });
  report("decode only (header parse excluded)", decodeOnly, "records/s");

  const list: string[] = [];
  for (let i = 0; i < 10_000; i++) list.push(`192.0.${(i >> 8) & 255}.${i & 255}/32`);
  const issue5 = await pipelineWith({
    fixed_lists: { lists: [{ name: "bench", type: "black", entries: list }] },
    ua_parser: { enabled: false },
    lua: { enabled: false },
    many_uas: { enabled: false },
    limit_req_mc: { enabled: false },
    request_hash_score: { enabled: false },
    statstore_http_stats: { enabled: false },
    telemetry_http_sampler: { enabled: false },
  });
  const chain5 = opsPerSecond(n, (i) => {
    issue5.pipeline.handleFrames(msgs[i & 8191]!);
  });
  report("location_flags + fixed_lists (10k entries)", chain5, "records/s");
  ratio("  ÷ decode only", chain5 / decodeOnly);
  await issue5.pipeline.close();

  const full = await pipelineWith({});
  const steps = full.pipeline.steps(8984) ?? [];
  const chainFull = opsPerSecond(n, (i) => {
    full.pipeline.handleFrames(msgs[i & 8191]!);
  });
  report(`full default chain (${steps.length} steps)`, chainFull, "records/s");
  console.log(`  steps: ${steps.join(", ")}`);
  ratio("  ÷ decode only", chainFull / decodeOnly);
  console.log(`  commands decided during the run: ${full.commands()}`);
  await full.pipeline.close();

  // The same chain in 2 Web Workers, as `qts serve` runs it by default: the ingest thread
  // decodes and batches, the workers filter. On a 2-core machine the ingest thread competes
  // with them, so this shows the overhead of the hand-off more than a speed-up.
  const threaded = await pipelineWith({}, 2);
  const start = performance.now();
  const total = 200_000;
  for (let i = 0; i < total; i++) {
    const pending = threaded.pipeline.handleFrames(msgs[i & 8191]!);
    if (pending) await pending;
  }
  await threaded.runner!.drain();
  const rate = total / ((performance.now() - start) / 1000);
  report("full default chain, 2 workers (wall)", rate, "records/s");
  ratio("  ÷ full chain on the ingest thread", rate / chainFull);
  await threaded.pipeline.close();
  if (sink === -1) console.log(sink);
}

if (import.meta.main) await run();
