import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { isCaptureName } from "../../../src/analyzer/tractor/capture_repository.ts";
import { SCHEMA_VERSION, TractorStore } from "../../../src/analyzer/tractor/tractor_store.ts";
import { SCHEMA_V1 } from "../../../src/analyzer/tractor/_store_schema.ts";
import { clientsCapture } from "./_clients_capture.ts";
import { CLIENTS_PCAP } from "./_tractor_fixture.ts";

const FILE = { name: "a.pcap", extension: "pcap", sizeBytes: 2048, mtimeMs: 1000 };

async function withStore(fn: (store: TractorStore, path: string) => void | Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "qts-tractor-store-" });
  const path = join(dir, "tractor.sqlite");
  const store = new TractorStore(path);
  try {
    await fn(store, path);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("TractorStore uses WAL and records its schema version", async () => {
  await withStore((store) => {
    assert.deepEqual({ ...store.db.prepare("PRAGMA journal_mode").get() }, { journal_mode: "wal" });
    assert.deepEqual({ ...store.db.prepare("PRAGMA user_version").get() }, {
      user_version: SCHEMA_VERSION,
    });
  });
});

Deno.test("TractorStore refuses a database from a newer schema version", async () => {
  await withStore((store, path) => {
    store.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    assert.throws(() => new TractorStore(path), RangeError);
  });
});

Deno.test("TractorStore.recoverInterrupted() requeues in_progress jobs and fails them after too many starts", async () => {
  await withStore((store) => {
    const a = store.createJob(FILE, 10);
    const b = store.createJob({ ...FILE, name: "b.pcap" }, 10);
    store.startJob(a.id, 11);
    for (let i = 0; i < 3; i++) store.startJob(b.id, 11);
    store.insertFlows(a.id, [{
      flowId: 1,
      clientIp: "10.0.0.1",
      clientPort: 1,
      serverIp: "10.0.0.2",
      serverPort: 2,
      protocol: "tcp",
      timeStart: 1,
      timeEnd: 2,
      firstMs: 1000,
      lastMs: 2000,
      packets: 2,
      bytes: 80,
      label: "tcp",
      comment: "",
      userAgent: null,
      domainName: null,
      requests: 0,
      http: [],
    }]);
    const r = store.recoverInterrupted(20, 3);
    assert.deepEqual(r, { resumed: [a.id], failed: [b.id] });
    assert.equal(store.job(a.id)!.state, "new");
    const failed = store.job(b.id)!;
    assert.equal(failed.state, "failed");
    assert.equal(failed.finishedAt, 20);
    assert.match(failed.error!, /interrupted 3 times/);
    assert.deepEqual(store.queuedJobs(), [a.id]);
    // A resumed job starts from nothing: partial flows of the killed run are gone.
    store.startJob(a.id, 21);
    assert.equal(store.flowsByLabel(a.id, ["tcp"], 10, 0).total, 0);
    assert.equal(store.job(a.id)!.attempts, 2);
    const states = store.db.prepare("SELECT count(*) AS n FROM jobs WHERE state = 'in_progress'")
      .get() as { n: number };
    assert.equal(states.n, 1);
  });
});

Deno.test("TractorStore.finishJob() refuses a job that is not running", async () => {
  await withStore((store) => {
    const a = store.createJob(FILE, 10);
    assert.throws(() => store.finishJob(a.id, { firstUs: 0, lastUs: 0 }, 11), RangeError);
  });
});

Deno.test("a second connection (the worker's) sees the server's writes", async () => {
  await withStore((store, path) => {
    const a = store.createJob(FILE, 10);
    const other = new DatabaseSync(path);
    try {
      const row = other.prepare("SELECT state FROM jobs WHERE id = ?").get(a.id) as {
        state: string;
      };
      assert.equal(row.state, "new");
    } finally {
      other.close();
    }
  });
});

Deno.test("isCaptureName() accepts plain capture names only", () => {
  for (const ok of ["a.pcap", "A.PCAPNG", "x y.cap", "trace.pcap.gz", "рус.pcap"]) {
    assert.ok(isCaptureName(ok), ok);
  }
  for (
    const bad of [
      "",
      ".pcap",
      ".a.pcap",
      "../a.pcap",
      "a/b.pcap",
      "a\\b.pcap",
      "a.txt",
      "a.pcap\0",
      "pcap",
      "x".repeat(300) + ".pcap",
    ]
  ) {
    assert.equal(isCaptureName(bad), false, JSON.stringify(bad));
  }
});

Deno.test("the committed clients.pcap is what _clients_capture.ts builds", async () => {
  assert.deepEqual(await Deno.readFile(CLIENTS_PCAP), clientsCapture());
});

Deno.test("TractorStore migrates a version 1 database and builds the client totals and timeline", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qts-tractor-store-" });
  try {
    const path = join(dir, "tractor.sqlite");
    const old = new DatabaseSync(path);
    old.exec(SCHEMA_V1);
    old.exec("PRAGMA user_version = 1");
    old.exec(
      `INSERT INTO jobs(id, file_name, extension, size_bytes, mtime_ms, state, created_at,
       time_start, time_end, flows_count) VALUES (1, 'a.pcap', 'pcap', 10, 1, 'finished', 5, 100, 130, 2)`,
    );
    const flow = old.prepare(
      `INSERT INTO flows(job_id, flow_id, client_ip, client_port, server_ip, server_port, protocol,
       time_start, time_end, packets, bytes, label, comment) VALUES (1, ?, '10.0.0.1', ?, '10.0.0.9',
       80, 'tcp', ?, ?, ?, ?, 'http', '')`,
    );
    flow.run(1, 1000, 100, 110, 4, 400);
    flow.run(2, 1001, 120, 130, 6, 600);
    old.close();
    const store = new TractorStore(path);
    try {
      assert.deepEqual({ ...store.db.prepare("PRAGMA user_version").get() }, {
        user_version: SCHEMA_VERSION,
      });
      const { total, clients } = store.clients(1, {
        sort: "requests",
        descending: true,
        limit: 10,
        offset: 0,
      });
      assert.equal(total, 1);
      assert.deepEqual(clients[0], {
        ip: "10.0.0.1",
        flows: 2,
        packets: 10,
        bytes: 1000,
        requests: 0, // version 1 did not count them
        firstMs: 100_000,
        lastMs: 130_000,
        userAgents: 0,
      });
      const timeline = store.timeline(1);
      assert.equal(timeline.reduce((a, r) => a + r.flows, 0), 2);
      assert.equal(timeline.reduce((a, r) => a + r.bytes, 0), 1000);
      assert.deepEqual(
        store.flows(1, { clientIp: "10.0.0.1", limit: 1, offset: 1 }).flows
          .map((f) => [f.flowId, f.firstMs]),
        [[2, 120_000]],
      );
    } finally {
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
