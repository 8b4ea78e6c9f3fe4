/**
 * The worker path as `qts serve` runs it: the ingest thread only routes wire bytes (workers
 * decode), records are sharded by client so per-IP state is whole, malformed bodies are counted
 * by the decoder's reason, and a worker that falls behind holds the input back, counted.
 * @module
 */
import assert from "node:assert/strict";
import {
  completeComponents,
  componentsFromObject,
  EMBEDDED_DEFAULT_CONF,
  parseDefaultConf,
} from "../../../src/shared/config/load_components.ts";
import { ConfigStore } from "../../../src/shared/config/config_store.ts";
import { loadSettings } from "../../../src/shared/config/settings.ts";
import { HttpStats } from "../../../src/sensor/filters/statstore_http_stats.ts";
import type {
  ChainRunner,
  Decision,
  RunnerSinks,
} from "../../../src/sensor/ingest/chain_runner.ts";
import { LocalRunner } from "../../../src/sensor/ingest/local_runner.ts";
import { Pipeline } from "../../../src/sensor/ingest/pipeline.ts";
import { WorkerRunner } from "../../../src/sensor/ingest/worker_runner.ts";
import { ListManager } from "../../../src/sensor/lm/list_manager.ts";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import { Metrics } from "../../../src/shared/metrics/metrics.ts";
import { formatIPv4, parseIPv4 } from "../../../src/shared/net/ip.ts";
import { fnv1a, fnv1aIPv4 } from "../../../src/shared/hash/fnv1a.ts";
import {
  emptyRecord,
  encodeHeader,
  encodeRecord,
  FIXED_SIZE,
  type HttpRecord,
  peekClient,
} from "../../../src/sensor/wire/mod.ts";
import { seededRandom } from "../../_support/random.ts";

const DOMAIN = 8984;
/** Records of this domain kill _failing_chain_worker.ts (a worker module: not imported here). */
const FATAL_DOMAIN = 666;
const DOMAIN_JSON = {
  fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["203.0.113.0/24"] }] },
  lua: { enabled: false },
  limit_req_mc: {
    enabled: true,
    configurations: [{ name: "z", rate: "6r/m", burst: 2, nodelay: true }],
  },
};

/** Requests from a few clients; one of them sends as `remote_ip` and as `remote_addr` text. */
function records(): HttpRecord[] {
  const out: HttpRecord[] = [];
  for (let i = 0; i < 300; i++) {
    const ip = `${i % 3 === 0 ? "203.0.113" : "198.51.100"}.${i % 7}`;
    const record: HttpRecord = {
      ...emptyRecord(),
      req_type: 1,
      status: 200,
      method: "GET",
      url: `/p${i % 5}`,
      host: "example.com",
      http_user_agent: `ua-${i % 4}`,
    };
    // The same client both ways: its rate-limit state must be one, in one worker.
    if (i % 2 === 0) record.remote_addr = ip;
    else record.remote_ip = parseIPv4(ip)!;
    out.push(record);
  }
  return out;
}

/** Bodies every decoder rejects, each for its own reason. */
function malformed(): [string, Uint8Array][] {
  const good = encodeRecord({ ...emptyRecord(), remote_ip: 1 });
  const badLength = good.slice();
  new DataView(badLength.buffer).setUint32(FIXED_SIZE, 0xffff, true);
  return [
    ["short_body", good.subarray(0, FIXED_SIZE - 1)],
    ["bad_length", badLength],
    ["bad_remote_addr", encodeRecord({ ...emptyRecord(), remote_addr: "not-an-ip" })],
  ];
}

async function run(workers: number) {
  const dir = await Deno.makeTempDir({ prefix: "qts-worker-path-" });
  await Deno.mkdir(`${dir}/filters`);
  await Deno.writeTextFile(`${dir}/filters/${DOMAIN}.json`, JSON.stringify(DOMAIN_JSON));
  const settings = loadSettings(
    `[tsng]\nfilters_config_dir = ${dir}/filters\ncomponents_config_dir = ${dir}/components\n` +
      "state_dir =\n",
    "t.ini",
  );
  const store = new ConfigStore(settings);
  await store.load();
  let now = 1_700_000_000_000;
  // No `observe`: the clock of `qts serve`, with which the ingest thread leaves decoding to
  // the workers.
  const clock = { now: () => now };
  const metrics = new Metrics();
  const decisions: Decision[] = [];
  const lm = new ListManager({ emit: () => {}, hostname: "t", clock });
  const sinks: RunnerSinks = {
    decide: (d) => {
      decisions.push(d);
      pipeline.decide(d);
    },
    drop: (reason, id, detail) => pipeline.dropped(reason, id, detail),
  };
  const env = { settings, global: () => store.global, log: silentLogger, stats: new HttpStats() };
  const runner: ChainRunner = workers === 0
    ? new LocalRunner(env, sinks)
    : new WorkerRunner({ workers, settings, global: store.global, logLevel: "error", sinks });
  const pipeline: Pipeline = new Pipeline({
    store,
    lm,
    metrics,
    log: silentLogger,
    clock,
    env,
    runner,
  });
  try {
    await pipeline.start();
    const header = encodeHeader(DOMAIN);
    const bad = malformed();
    let i = 0;
    for (const record of records()) {
      now += 250;
      const pending = pipeline.handleFrames([header, encodeRecord(record)]);
      if (pending) await pending;
      const [, body] = bad[i++ % 40] ?? [];
      if (body) await pipeline.handleFrames([header, body]);
    }
    await runner.settled();
    const drops = Object.fromEntries(
      bad.map(([reason]) => [reason, metrics.get("qts_input_dropped_total", { reason })]),
    );
    return { decisions, drops };
  } finally {
    await pipeline.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "WorkerRunner.submitBody(): workers decode, decide as the ingest thread does, count drops",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const local = await run(0);
    const events = new Set(local.decisions.flatMap((d) => d.events));
    assert.ok(events.has("fixed_bad") && [...events].some((e) => e.startsWith("loc_rate_z_")));
    assert.deepEqual(local.drops, { short_body: 8, bad_length: 8, bad_remote_addr: 8 });
    const strip = (ds: Decision[]) => ds.map(({ worker: _w, ...d }) => d);
    for (const workers of [2, 3]) {
      const threaded = await run(workers);
      assert.deepEqual(strip(threaded.decisions), strip(local.decisions), `workers=${workers}`);
      assert.deepEqual(threaded.drops, local.drops, `workers=${workers}`);
      // One client, one worker, whichever way its address was sent.
      const byIp = new Map<string, Set<number>>();
      for (const d of threaded.decisions) {
        byIp.set(d.ip, (byIp.get(d.ip) ?? new Set()).add(d.worker));
      }
      for (const [ip, seen] of byIp) assert.equal(seen.size, 1, `${ip} in workers ${[...seen]}`);
      assert.ok(new Set(threaded.decisions.map((d) => d.worker)).size > 1, "one worker did all");
    }
  },
});

Deno.test("fnv1aIPv4() is fnv1a() of the dotted address", () => {
  const random = seededRandom(19);
  const ips = [0, 1, 0x7f000001, 0xffffffff, 0x0a00_0a0a, 0xc0a80164];
  for (let i = 0; i < 2000; i++) ips.push(Math.floor(random() * 2 ** 32));
  for (const ip of ips) assert.equal(fnv1aIPv4(ip), fnv1a(formatIPv4(ip)), formatIPv4(ip));
});

Deno.test("peekClient() reads remote_ip, or the remote_addr extension, without decoding", () => {
  assert.equal(peekClient(encodeRecord({ ...emptyRecord(), remote_ip: 0xc6336407 })), 0xc6336407);
  const v6 = encodeRecord({ ...emptyRecord(), remote_ip: 5, remote_addr: "2001:DB8::1" });
  assert.equal(peekClient(v6), "2001:DB8::1");
  assert.equal(peekClient(v6.subarray(0, v6.length - 3)), undefined);
  assert.equal(peekClient(v6.subarray(0, FIXED_SIZE + 2)), undefined);
  assert.equal(peekClient(new Uint8Array(10)), undefined);
});

/** Settings and embedded global components for a WorkerRunner made directly. */
const settings = loadSettings("[tsng]\ncomponents_config_dir =\nstate_dir =\n", "t.ini");
const global = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf");

Deno.test({
  name: "WorkerRunner makes submit() wait while a worker is behind, and counts the waits",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const metrics = new Metrics();
    const decided: Decision[] = [];
    const runner = new WorkerRunner({
      workers: 1,
      settings,
      global,
      logLevel: "error",
      sinks: { decide: (d) => void decided.push(d), drop: () => {} },
      metrics,
      batchSize: 1,
      maxInFlight: 1,
    });
    try {
      await runner.configure(1, global);
      let waited = 0;
      for (let i = 0; i < 20; i++) {
        const body = encodeRecord({ ...emptyRecord(), remote_ip: 7, method: "TRACE", url: "/" });
        const pending = runner.submitBody(1, body, 1_700_000_000_000 + i);
        if (pending) {
          waited++;
          await pending;
        }
      }
      await runner.drain();
      // One batch in flight at most: every record after the first waited for the previous one.
      assert.equal(waited, 20);
      assert.equal(metrics.get("qts_worker_backpressure_total"), 20);
      assert.ok(metrics.get("qts_worker_backpressure_seconds_total") > 0);
    } finally {
      await runner.close();
    }
  },
});

Deno.test({
  name: "WorkerRunner starts a dead worker again and counts the records it took down",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const config = completeComponents(
      componentsFromObject({
        fixed_lists: { lists: [{ name: "all", type: "black", entries: ["0.0.0.0/0"] }] },
      }, "t"),
      global,
    );
    const metrics = new Metrics();
    const decided: Decision[] = [];
    const lost: string[] = [];
    const runner = new WorkerRunner({
      workers: 2,
      settings,
      global,
      logLevel: "error",
      sinks: {
        decide: (d) => void decided.push(d),
        drop: (reason, _domain, detail) => void lost.push(`${reason}: ${detail}`),
      },
      metrics,
      log: silentLogger,
      batchSize: 10,
      createWorker: () =>
        new Worker(new URL("./_failing_chain_worker.ts", import.meta.url), { type: "module" }),
    });
    try {
      await runner.configure(1, config);
      await runner.configure(FATAL_DOMAIN, config);
      const send = async (domain: number, i: number) => {
        const remote_ip = parseIPv4(`198.51.100.${i % 50}`)!;
        const body = encodeRecord({ ...emptyRecord(), remote_ip, method: "GET", url: `/${i}` });
        const pending = runner.submitBody(domain, body, 1_700_000_000_000 + i);
        if (pending) await pending;
      };
      for (let i = 0; i < 100; i++) await send(1, i);
      await send(FATAL_DOMAIN, 100);
      await runner.drain();
      for (let i = 101; i < 200; i++) await send(1, i);
      await runner.drain();
      assert.equal(metrics.get("qts_worker_restarts_total"), 1);
      // Every record is decided (each makes an event) or counted as lost, never both.
      assert.ok(lost.length >= 1 && lost.length <= 40, `${lost.length} lost`);
      assert.ok(lost.every((l) => l.startsWith("worker_failed: chain worker")), lost[0]);
      assert.equal(decided.length + lost.length, 200);
      // The restarted worker has the chain: records sent after the failure are decided.
      assert.ok(decided.some((d) => d.now === 1_700_000_000_000 + 199));
      assert.ok(decided.every((d) => d.events.includes("fixed_all")));
    } finally {
      await runner.close();
    }
  },
});
