import { ConfigStore } from "../../src/shared/config/config_store.ts";
import { loadSettings } from "../../src/shared/config/settings.ts";
import { HttpStats } from "../../src/sensor/filters/statstore_http_stats.ts";
import type { ChainRunner, RunnerSinks } from "../../src/sensor/ingest/chain_runner.ts";
import { InputDrain } from "../../src/sensor/ingest/input_drain.ts";
import { LocalRunner } from "../../src/sensor/ingest/local_runner.ts";
import { Pipeline } from "../../src/sensor/ingest/pipeline.ts";
import { RequestJoin } from "../../src/sensor/ingest/request_join.ts";
import { WorkerRunner } from "../../src/sensor/ingest/worker_runner.ts";
import { ListManager } from "../../src/sensor/lm/list_manager.ts";
import { silentLogger } from "../../src/shared/log/logger.ts";
import { Metrics } from "../../src/shared/metrics/metrics.ts";
import { decodeRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { fmt, metricTotal, opsPerSecond, ratio, report } from "./_measure.ts";
import { processCpuSeconds, threadCpuSeconds } from "./_thread_cpu.ts";
import { sampleRecord } from "./wire_bench.ts";

/** A pipeline in this process on a temp config dir, with commands counted, not sent. */
async function pipelineWith(
  domainJson: unknown,
  workers = 0,
): Promise<
  { pipeline: Pipeline; commands: () => number; runner: ChainRunner; metrics: Metrics }
> {
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
  // The wall clock, as `qts serve` runs (a record-driven clock would make the ingest thread
  // decode every record to read its time, which the worker path otherwise leaves to workers).
  const clock = { now: () => Date.now() };
  const lm = new ListManager({ emit: () => void commands++, hostname: "bench", clock });
  const env = { settings, global: () => store.global, log: silentLogger, stats: new HttpStats() };
  const sinks: RunnerSinks = {
    decide: (d) => pipeline.decide(d),
    drop: (r, id) => pipeline.dropped(r, id),
  };
  const runner: ChainRunner = workers > 0
    ? new WorkerRunner({
      workers,
      settings,
      global: store.global,
      logLevel: "error",
      sinks,
    })
    : new LocalRunner(env, sinks);
  const metrics = new Metrics();
  const pipeline: Pipeline = new Pipeline({
    store,
    lm,
    metrics,
    log: silentLogger,
    clock,
    env,
    runner,
  });
  await pipeline.start();
  return { pipeline, commands: () => commands, runner, metrics };
}

/**
 * Complete requests (req_type 1 with their status, no request id: what the syslog input and
 * replay send, and what the response-phase filters need) from public addresses in
 * 198.18.0.0/15. Without an id each message is a request of its own: cycling through a few
 * thousand before-halves with ids would make every later lap a duplicate, dropped before the
 * chain.
 */
function messages(count: number, ips: number): Uint8Array[][] {
  const header = encodeHeader(8984);
  return Array.from({ length: count }, (_, i) => {
    const record = sampleRecord(i);
    record.req_type = 1;
    record.status = i % 23 === 0 ? 404 : 200;
    record.qrator_request_id = "";
    // Public sources (198.18/15, not private to trusted_sources), so the detectors run.
    record.remote_ip = (0xc6120000 + (i * 7919) % ips) >>> 0;
    return [header, encodeRecord(record)];
  });
}

/** Message `i` of a bench stream (header and body frames). */
type Messages = (i: number) => Uint8Array[];

const ID_DIGITS = 12;

/** Where the ASCII text `id` sits in `body`. */
function offsetOf(body: Uint8Array, id: string): number {
  const bytes = new TextEncoder().encode(id);
  outer: for (let at = 0; at + bytes.length <= body.length; at++) {
    for (let k = 0; k < bytes.length; k++) if (body[at + k] !== bytes[k]) continue outer;
    return at;
  }
  throw new Error(`id ${id} not in the body`);
}

/**
 * Requests as a proxy sends them: a before-half (req_type 0) and an after-half with the status
 * (req_type 1) under one request id, from public addresses. `count` pairs are encoded once;
 * each request writes a fresh id into both bodies, so ids never repeat (a repeated one would be
 * a duplicate, dropped before the chain).
 */
export function halves(count: number, ips: number): Messages {
  const header = encodeHeader(8984);
  const pairs = Array.from({ length: count }, (_, k) => {
    const record = sampleRecord(k);
    record.remote_ip = (0xc6120000 + (k * 7919) % ips) >>> 0;
    record.qrator_request_id = `q${String(k).padStart(ID_DIGITS, "0")}`;
    const before = encodeRecord({ ...record, req_type: 0, status: 0 });
    const after = encodeRecord({ ...record, req_type: 1, status: k % 23 === 0 ? 404 : 200 });
    const id = record.qrator_request_id;
    return { before, after, at: [offsetOf(before, id) + 1, offsetOf(after, id) + 1] as const };
  });
  const write = (body: Uint8Array, at: number, request: number) => {
    for (let k = ID_DIGITS - 1; k >= 0; k--) {
      body[at + k] = 48 + request % 10;
      request = Math.floor(request / 10);
    }
  };
  return (i) => {
    const request = i >> 1;
    const pair = pairs[request % count]!;
    if ((i & 1) === 1) return [header, pair.after];
    write(pair.before, pair.at[0], request);
    write(pair.after, pair.at[1], request);
    return [header, pair.before];
  };
}

/**
 * The live input as proxies feed it: two halves a request, joined by request id (the join's
 * table holds every id of the last 60 s), workers 0 and 2, requests/s and their ratio.
 */
async function proxyHalves(): Promise<void> {
  const requests = Number(Deno.env.get("QTS_BENCH_RECORDS") ?? 300_000);
  const stream = halves(8192, 100_000);
  const w0 = await measure(stream, requests * 2, 0, true);
  const w2 = await measure(stream, requests * 2, 2, true);
  console.log(
    `\nproxy halves (before + after with request ids), ${fmt(requests)} requests:\n` +
      `workers 0 ${fmt(w0.rate / 2)} requests/s, workers 2 ${fmt(w2.rate / 2)} requests/s ` +
      `(${(w2.rate / w0.rate).toFixed(2)}×); messages dropped ${w0.dropped} / ${w2.dropped}`,
  );
}

/**
 * Feeds `total` messages through a pipeline as the sensor's ingest loop does under load, then
 * drains: with `batched`, through the InputDrain of `qts serve` (the input always has more
 * queued, so batches of 64 on a LocalRunner), else one at a time.
 */
async function feed(
  pipeline: Pipeline,
  runner: ChainRunner,
  msgs: Messages,
  total: number,
  batched = true,
  from = 0,
): Promise<void> {
  const drain = new InputDrain({
    ingest: (frames) => pipeline.handleFrames(frames),
    runner: batched && runner instanceof LocalRunner ? runner : undefined,
    failed: (error) => {
      throw error;
    },
  });
  let i = from;
  const next = () => i < from + total ? msgs(i++) : undefined;
  for (let first = next(); first; first = next()) await drain.drain(first, next);
  await runner.settled();
}

/**
 * The full default chain on the ingest thread (workers 0) and in 1, 2 and 4 Web Workers:
 * records/s of wall time, the ratio to workers 0 within this run, and the CPU time per record
 * of the ingest thread, of the worker threads together (each reports its own thread's
 * getrusage) and of the runtime's other threads (GC helpers, I/O: the process total minus
 * both), see _thread_cpu.ts. On a machine shared with other work the wall figures say little,
 * so the last columns give the rate those CPU times allow on idle cores: one record per the
 * largest of the ingest thread's time, a worker's share and the total over the cores. Each
 * configuration runs QTS_BENCH_ROUNDS times (3), in turn; the median run is printed.
 */
const ROUNDS = Number(Deno.env.get("QTS_BENCH_ROUNDS") ?? 3);
// Records each configuration runs before it is measured: a new worker isolate compiles the chain
// (JIT on background threads) for ~100k records; a sensor that has run a minute has done that.
const WARM_UP = Number(Deno.env.get("QTS_BENCH_WARMUP") ?? 100_000);

async function scaling(msgs: Messages): Promise<void> {
  const total = Number(Deno.env.get("QTS_BENCH_RECORDS") ?? 300_000);
  const cores = navigator.hardwareConcurrency;
  console.log(
    `\nworkers scaling: full default chain, ${fmt(total)} records, ${cores} cores, ` +
      `load average ${Deno.loadavg()[0]!.toFixed(2)}, median of ${ROUNDS} rounds ` +
      `(QTS_BENCH_RECORDS, QTS_BENCH_ROUNDS to change)`,
  );
  console.log(
    `${"workers".padEnd(8)} ${"records/s".padStart(10)} ${"÷ w0".padStart(6)}  ` +
      `${"µs CPU/record: ingest".padStart(22)} ${"workers".padStart(8)} ${"other".padStart(6)} ` +
      `${"total".padStart(6)}  ${"idle-core bound".padStart(15)} ${"÷ w0".padStart(6)}`,
  );
  // "0": input batches of 64, as qts serve under load; "0 alone": the ingest thread deciding
  // each record as it comes (qts serve before input batches). The configurations run ROUNDS
  // times, in turn and in alternating order, and each prints its median run: a machine that
  // slows down mid-bench weighs on all of them alike.
  const configs = [["0", 0], ["0 alone", 0], ["1", 1], ["2", 2], ["4", 4]] as const;
  const runs = new Map<string, Measured[]>(configs.map(([label]) => [label, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? configs : [...configs].reverse();
    for (const [label, workers] of order) {
      runs.get(label)!.push(await measure(msgs, total, workers, label !== "0 alone"));
    }
  }
  const median = (label: string) => {
    const sorted = [...runs.get(label)!].sort((a, b) => a.rate - b.rate);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const base = median("0");
  const baseBound = boundOf(base, 0, cores);
  for (const [label, workers] of configs) {
    const m = median(label);
    const bound = boundOf(m, workers, cores);
    const f2 = (n: number, w: number) => n.toFixed(2).padStart(w);
    console.log(
      `${label.padEnd(8)} ${fmt(m.rate).padStart(10)} ${f2(m.rate / base.rate, 5)}×  ` +
        `${f2(m.ingest, 22)} ${f2(m.chain, 8)} ${f2(m.other, 6)} ` +
        `${f2(m.ingest + m.chain + m.other, 6)}  ` +
        `${fmt(bound).padStart(15)} ${f2(bound / baseBound, 5)}×`,
    );
  }
  console.log(
    `${"2 workers ÷ 0, each round".padEnd(48)} ${
      runs.get("2")!.map((m, i) => (m.rate / runs.get("0")![i]!.rate).toFixed(2)).join("  ")
    }  (target ≥ 1.3 for the median)`,
  );
}

/** One configuration's run: records/s and the CPU µs per record of each kind of thread. */
interface Measured {
  rate: number;
  ingest: number;
  chain: number;
  other: number;
  /** Input messages the pipeline dropped (qts_input_dropped_total, every reason). */
  dropped: number;
}

/** The rate the CPU times allow on idle cores (see {@linkcode scaling}). */
function boundOf(m: Measured, workers: number, cores: number): number {
  const sum = m.ingest + m.chain + m.other;
  return 1e6 / Math.max(m.ingest, workers > 0 ? m.chain / workers : 0, sum / cores);
}

async function measure(
  msgs: Messages,
  total: number,
  workers: number,
  batched: boolean,
): Promise<Measured> {
  const run = await pipelineWith({}, workers);
  await feed(run.pipeline, run.runner, msgs, WARM_UP, batched);
  const workersCpu = async () => {
    if (!(run.runner instanceof WorkerRunner)) return 0;
    await run.runner.refreshStats();
    return run.runner.cpu().reduce((a, b) => a + b, 0);
  };
  const workers0 = await workersCpu();
  const main0 = threadCpuSeconds();
  const proc0 = processCpuSeconds();
  const start = performance.now();
  // Past the warm-up's messages: a stream of request ids must not repeat one.
  await feed(run.pipeline, run.runner, msgs, total, batched, WARM_UP);
  const seconds = (performance.now() - start) / 1000;
  const main = threadCpuSeconds() - main0;
  const proc = processCpuSeconds() - proc0;
  const inWorkers = (await workersCpu()) - workers0;
  const dropped = metricTotal(run.metrics.render(), "qts_input_dropped_total");
  await run.pipeline.close();
  const us = (s: number) => s * 1e6 / total;
  return {
    rate: total / seconds,
    ingest: us(main),
    chain: us(inWorkers),
    other: us(proc - main - inWorkers),
    dropped,
  };
}

/**
 * The join of a proxy's two halves by request id, at steady state: 5k requests/s with the
 * default 60 s ttl holds 300k ids, and every request expires the oldest. (A Map trimmed from
 * the front walked its deleted slots: 219 µs a request here before OrderedMap.)
 */
function requestJoin(): void {
  const rate = 5_000;
  const live = rate * 60;
  const n = 200_000;
  const ids = Array.from({ length: live + 10_000 + n }, (_, i) => `req${i}`);
  const join = new RequestJoin();
  let now = 0;
  const request = (i: number) => {
    now += 1000 / rate;
    join.classify(ids[i]!, 0, now);
    join.classify(ids[i]!, 1, now);
  };
  for (let i = 0; i < live + 10_000; i++) request(i);
  const start = performance.now();
  for (let i = live + 10_000; i < live + 10_000 + n; i++) request(i);
  const us = (performance.now() - start) * 1000 / n;
  report(
    `request-id join, ${fmt(join.size)} ids live (before + after half)`,
    1e6 / us,
    "requests/s",
  );
}

/** Records/s through the chain vs decode-only (issues 5 and 6). */
export async function run(): Promise<void> {
  const n = 200_000;
  const msgs = messages(8192, 100_000);
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
    trusted_sources: { enabled: false },
    geo_zones: { enabled: false },
    probe_detector: { enabled: false },
    response_status: { enabled: false },
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

  requestJoin();
  await scaling((i) => msgs[i & 8191]!);
  await proxyHalves();
  if (sink === -1) console.log(sink);
}

if (import.meta.main) await run();
