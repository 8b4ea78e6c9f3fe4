import { parseIPv4 } from "../../../src/shared/net/ip.ts";
import assert from "node:assert/strict";
import {
  completeComponents,
  componentsFromObject,
  EMBEDDED_DEFAULT_CONF,
  parseDefaultConf,
} from "../../../src/shared/config/load_components.ts";
import { loadSettings } from "../../../src/shared/config/settings.ts";
import { HttpStats } from "../../../src/sensor/filters/statstore_http_stats.ts";
import type { Decision } from "../../../src/sensor/ingest/chain_runner.ts";
import { LocalRunner } from "../../../src/sensor/ingest/local_runner.ts";
import { WorkerRunner } from "../../../src/sensor/ingest/worker_runner.ts";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import {
  decodeRecord,
  emptyRecord,
  encodeRecord,
  toPlainRecord,
} from "../../../src/sensor/wire/mod.ts";

const settings = loadSettings("[tsng]\ncomponents_config_dir =\nstate_dir =\n", "t.ini");
const global = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf");
const config = completeComponents(
  componentsFromObject({
    fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["203.0.113.0/24"] }] },
    lua: { enabled: false },
    limit_req_mc: {
      enabled: true,
      configurations: [{ name: "z", rate: "6r/m", burst: 2, nodelay: true }],
    },
  }, "test"),
  global,
);

function bodies(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 400; i++) {
    out.push(encodeRecord({
      ...emptyRecord(),
      remote_ip: parseIPv4(`${i % 3 === 0 ? "203.0.113" : "198.51.100"}.${i % 7}`)!,
      method: "GET",
      url: `/p${i % 5}`,
      host: "example.com",
      http_user_agent: `ua-${i % 4}`,
      qrator_request_id: `r${i}`,
    }));
  }
  return out;
}

async function decisionsOf(workers: number): Promise<Decision[]> {
  const decisions: Decision[] = [];
  const sinks = { decide: (d: Decision) => void decisions.push(d), drop: () => {} };
  const runner = workers === 0
    ? new LocalRunner(
      { settings, global: () => global, log: silentLogger, stats: new HttpStats() },
      sinks,
    )
    : new WorkerRunner({ workers, settings, global, logLevel: "error", sinks });
  try {
    await runner.configure(8984, config);
    let now = 1_700_000_000_000;
    for (const body of bodies()) {
      const result = decodeRecord(body);
      assert.ok(result.ok);
      now += 100;
      await runner.submit(8984, result.record, body, now);
    }
    if (runner instanceof WorkerRunner) await runner.drain();
    return decisions;
  } finally {
    await runner.close();
  }
}

Deno.test("WorkerRunner decides exactly what LocalRunner decides, in record order", async () => {
  const local = await decisionsOf(0);
  assert.ok(local.length > 100, `only ${local.length} decisions`);
  const events = new Set(local.flatMap((d) => d.events));
  assert.ok(events.has("fixed_bad") && [...events].some((e) => e.startsWith("loc_rate_z_")));
  const strip = (ds: Decision[]) => ds.map(({ worker: _w, ...d }) => d);
  for (const workers of [1, 3]) {
    const threaded = await decisionsOf(workers);
    assert.deepEqual(strip(threaded), strip(local), `workers=${workers}`);
    const times = threaded.map((d) => d.now);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    assert.ok(threaded.every((d) => d.worker >= 1 && d.worker <= workers));
  }
});

Deno.test("WorkerRunner reports a component that fails to build in a worker", async () => {
  const runner = new WorkerRunner({
    workers: 2,
    settings,
    global,
    logLevel: "error",
    sinks: { decide: () => {}, drop: () => {} },
  });
  try {
    const broken = completeComponents(
      componentsFromObject({
        fixed_lists: { lists: [{ name: "f", type: "black", file: "missing.txt" }] },
      }, "t"),
      global,
    );
    const skipped = await runner.configure(1, broken);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0]!, /Cannot load component "fixed_lists" for domain 1/);
    assert.ok(runner.has(1));
    await assert.rejects(runner.configure(1, broken), /fixed_lists/);
  } finally {
    await runner.close();
  }
});

Deno.test("LocalRunner keeps up to 64 waiting chains in flight and decides in record order", async () => {
  const decisions: Decision[] = [];
  const gates: (() => void)[] = [];
  const slow = {
    name: "slow",
    run: (_record: unknown, ctx: { events: string[] }) =>
      new Promise<void>((resolve) => {
        gates.push(() => {
          ctx.events.push("slow");
          resolve();
        });
      }),
  };
  const runner = new LocalRunner(
    { settings, global: () => global, log: silentLogger, stats: new HttpStats() },
    { decide: (d) => void decisions.push(d), drop: () => {} },
    1,
    {
      builders: { many_uas: () => Promise.resolve({ many_uas: slow as never }) },
      observers: {},
    },
  );
  await runner.configure(1, global);
  const body = encodeRecord({ ...emptyRecord(), remote_ip: 1 });
  const record = decodeRecord(body);
  assert.ok(record.ok);
  const returned: boolean[] = [];
  for (let i = 0; i < 64; i++) {
    returned.push(runner.submit(1, record.record, body, i, i) !== undefined);
  }
  assert.deepEqual(returned.slice(0, 63), new Array(63).fill(false));
  assert.equal(returned[63], true, "the 64th waiting record must make submit wait");
  // Finish them in reverse: decisions still come out in submission order.
  for (const gate of gates.reverse()) gate();
  await runner.settled();
  assert.deepEqual(decisions.map((d) => d.tag), Array.from({ length: 64 }, (_, i) => i));
  await runner.close();
});

/** The body with another method (decoded, changed, encoded again). */
function withMethod(body: Uint8Array, method: string): Uint8Array {
  const result = decodeRecord(body);
  assert.ok(result.ok);
  return encodeRecord({ ...toPlainRecord(result.record), method });
}

Deno.test("LocalRunner.batch() decides exactly as one record at a time, Lua included", async () => {
  const withLua = completeComponents(
    componentsFromObject({
      fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["203.0.113.0/24"] }] },
      limit_req_mc: {
        enabled: true,
        configurations: [{ name: "z", rate: "6r/m", burst: 2, nodelay: true }],
      },
    }, "test"),
    global,
  );
  const run = async (batch: number) => {
    const decisions: Decision[] = [];
    const runner = new LocalRunner(
      { settings, global: () => global, log: silentLogger, stats: new HttpStats() },
      { decide: (d) => void decisions.push(d), drop: () => {} },
    );
    runner.batch(batch);
    try {
      await runner.configure(8984, withLua);
      await runner.configure(8985, withLua);
      let now = 1_700_000_000_000;
      let i = 0;
      for (const plain of bodies()) {
        // TRACE trips default.lua's deny_bad_method; two domains interleave in runs.
        const body = i % 11 === 0 ? withMethod(plain, "TRACE") : plain;
        const result = decodeRecord(body);
        assert.ok(result.ok);
        const pending = runner.submit(i++ % 9 < 6 ? 8984 : 8985, result.record, body, now += 100);
        if (pending) await pending;
        // A sweep mid-batch runs the waiting records first.
        if (i === 250) runner.sweep(now);
      }
      await runner.settled();
      return decisions;
    } finally {
      await runner.close();
    }
  };
  const single = await run(1);
  const events = new Set(single.flatMap((d) => d.events));
  assert.ok(events.has("lua_bad_method") && events.has("fixed_bad"), [...events].join());
  assert.deepEqual(await run(64), single);
  assert.deepEqual(await run(7), single);
});

Deno.test("LocalRunner: a chain that raises fails its own records; later ones are still decided", async () => {
  for (const held of [false, true]) {
    const decisions: Decision[] = [];
    const boom = {
      name: "boom",
      run: (record: { url: string }, ctx: { events: string[] }) => {
        if (record.url === "/boom") throw new Error("filter bug");
        ctx.events.push("seen");
      },
    };
    const runner = new LocalRunner(
      { settings, global: () => global, log: silentLogger, stats: new HttpStats() },
      { decide: (d) => void decisions.push(d), drop: () => {} },
      1,
      {
        builders: { many_uas: () => Promise.resolve({ many_uas: boom as never }) },
        observers: {},
      },
    );
    await runner.configure(1, global);
    const errors: string[] = [];
    if (held) runner.hold();
    for (const [i, url] of ["/a", "/boom", "/b"].entries()) {
      const body = encodeRecord({ ...emptyRecord(), remote_ip: 1, url });
      const record = decodeRecord(body);
      assert.ok(record.ok);
      try {
        runner.submit(1, record.record, body, i, i);
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    if (held) {
      // Nothing runs while held; release runs the three as one batch.
      assert.equal(decisions.length, 0);
      assert.throws(() => runner.release(), /filter bug/);
    } else assert.deepEqual(errors, ["filter bug"]);
    await runner.settled();
    // A batch that raises fails as a whole; alone, only the record that raised is lost.
    assert.deepEqual(decisions.map((d) => d.tag), held ? [] : [0, 2]);
    assert.deepEqual(
      runner.batches,
      held ? { batches: 1, records: 3 } : { batches: 3, records: 3 },
    );
    // The runner is not stuck: the next record is decided.
    const body = encodeRecord({ ...emptyRecord(), remote_ip: 1, url: "/c" });
    const record = decodeRecord(body);
    assert.ok(record.ok);
    runner.submit(1, record.record, body, 9, 9);
    await runner.settled();
    assert.equal(decisions.at(-1)?.tag, 9);
    await runner.close();
  }
});
