import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { isCaptureName } from "../../../src/analyzer/tractor/capture_repository.ts";
import {
  type FlowRow,
  LostClaimError,
  SCHEMA_VERSION,
  TractorStore,
} from "../../../src/analyzer/tractor/tractor_store.ts";
import { portableSql, redactUrl } from "../../../src/analyzer/tractor/sql_driver.ts";
import { postgresMissing } from "../../_support/postgres_cluster.ts";
import { freePort } from "../../_support/sensor_process.ts";
import { SCHEMA_V1 } from "../../../src/analyzer/tractor/_store_schema.ts";
import { clientsCapture } from "./_clients_capture.ts";
import { CLIENTS_PCAP, freshPostgresDatabase } from "./_tractor_fixture.ts";

const FILE = { name: "a.pcap", extension: "pcap", sizeBytes: 2048, mtimeMs: 1000 };
const LEASE = { leaseSeconds: 60, maxAttempts: 3 };

function flow(flowId: number): FlowRow {
  return {
    flowId,
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
  };
}

type Kind = "sqlite" | "postgres";

/** A fresh store location of each kind: a file in a temp dir, or a new PostgreSQL database. */
async function location(kind: Kind): Promise<{ where: string; cleanup(): Promise<void> }> {
  if (kind === "postgres") return { where: await freshPostgresDatabase(), cleanup: async () => {} };
  const dir = await Deno.makeTempDir({ prefix: "qts-tractor-store-" });
  return {
    where: join(dir, "tractor.sqlite"),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

/** One test per store kind; the PostgreSQL one is ignored, with a printed reason, without it. */
function storeTest(
  name: string,
  fn: (store: TractorStore, where: string, kind: Kind) => Promise<void>,
  kinds: Kind[] = ["sqlite", "postgres"],
): void {
  for (const kind of kinds) {
    Deno.test({
      name: `${name} [${kind}]`,
      ignore: kind === "postgres" && postgresMissing !== undefined,
      async fn() {
        const at = await location(kind);
        const store = await TractorStore.open(at.where);
        try {
          await fn(store, at.where, kind);
        } finally {
          await store.close();
          await at.cleanup();
        }
      },
    });
  }
}

storeTest("TractorStore uses WAL and records its schema version", async (store) => {
  assert.deepEqual({ ...await store.sql.get("PRAGMA journal_mode") }, { journal_mode: "wal" });
  assert.deepEqual({ ...await store.sql.get("PRAGMA user_version") }, {
    user_version: SCHEMA_VERSION,
  });
}, ["sqlite"]);

storeTest(
  "TractorStore refuses a database from a newer schema version",
  async (store, where, kind) => {
    if (kind === "sqlite") await store.sql.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    else await store.sql.run("UPDATE tractor_schema SET version = ?", [SCHEMA_VERSION + 1]);
    await assert.rejects(() => TractorStore.open(where), /newer than this program's/);
  },
);

Deno.test("TractorStore migrates a version 2 SQLite database (no claims) and keeps its jobs", async () => {
  const at = await location("sqlite");
  try {
    const store = await TractorStore.open(at.where);
    const job = await store.createJob(FILE, 10);
    await store.close();
    // Version 2 was this schema without the claim columns.
    const old = new DatabaseSync(at.where);
    old.exec("DROP INDEX jobs_by_state");
    for (const c of ["claimed_by", "claimed_at", "lease_until"]) {
      old.exec(`ALTER TABLE jobs DROP COLUMN ${c}`);
    }
    old.exec("PRAGMA user_version = 2");
    old.close();
    const reopened = await TractorStore.open(at.where);
    try {
      assert.equal((await reopened.sql.get("PRAGMA user_version"))!.user_version, SCHEMA_VERSION);
      const claimed = await reopened.claimJob("h:1", 20, LEASE);
      assert.equal(claimed.job?.id, job.id);
      assert.equal(claimed.job?.claimedBy, "h:1");
    } finally {
      await reopened.close();
    }
  } finally {
    await at.cleanup();
  }
});

storeTest(
  "recoverInterrupted() requeues in_progress jobs and fails them after too many starts",
  async (store) => {
    const a = await store.createJob(FILE, 10);
    const b = await store.createJob({ ...FILE, name: "b.pcap" }, 10);
    const ca = (await store.claimJob("h:1", 11, LEASE)).claim!;
    assert.equal(ca.jobId, a.id);
    let cb = (await store.claimJob("h:1", 11, LEASE)).claim!;
    for (let i = 0; i < 2; i++) {
      await store.requeueJob(cb);
      cb = (await store.claimJob("h:1", 11, LEASE)).claim!;
    }
    assert.equal(cb.attempt, 3);
    await store.writeFlows(ca, [flow(1)], 100);
    const r = await store.recoverInterrupted(20, 3);
    assert.deepEqual(r, { resumed: [a.id], failed: [b.id] });
    assert.equal((await store.job(a.id))!.state, "new");
    const failed = (await store.job(b.id))!;
    assert.equal(failed.state, "failed");
    assert.equal(failed.finishedAt, 20);
    assert.match(failed.error!, /interrupted 3 times/);
    assert.deepEqual(await store.queuedJobs(), [a.id]);
    // A resumed job starts from nothing: partial flows of the killed run are gone.
    const again = (await store.claimJob("h:2", 21, LEASE)).claim!;
    assert.deepEqual(again, { jobId: a.id, by: "h:2", attempt: 2 });
    assert.equal((await store.flowsByLabel(a.id, ["tcp"], 10, 0)).total, 0);
    const n = await store.sql.get("SELECT count(*) AS n FROM jobs WHERE state = 'in_progress'");
    assert.equal(n!.n, 1);
  },
);

storeTest(
  "claimJob() takes the oldest queued job once; a held job is not claimed again",
  async (store) => {
    const a = await store.createJob(FILE, 10);
    const b = await store.createJob({ ...FILE, name: "b.pcap" }, 10);
    const first = await store.claimJob("h:1", 100, LEASE);
    assert.equal(first.job?.id, a.id);
    assert.equal(first.job?.state, "in_progress");
    assert.equal(first.job?.claimedAt, 100);
    assert.equal(first.job?.leaseUntil, 160);
    assert.equal(first.takenOverFrom, undefined);
    const second = await store.claimJob("h:2", 100, LEASE);
    assert.equal(second.job?.id, b.id);
    assert.equal(second.job?.claimedBy, "h:2");
    const none = await store.claimJob("h:3", 159, LEASE);
    assert.equal(none.job, undefined, "leases still hold at 159");
    // Renewing moves the lease; the other one expires and is taken over.
    assert.equal(await store.renewLease(first.claim!, 150, 60), true);
    const taken = await store.claimJob("h:3", 161, LEASE);
    assert.equal(taken.job?.id, b.id);
    assert.equal(taken.takenOverFrom, "h:2");
    assert.equal(taken.job?.attempts, 2);
    // The old holder can no longer write, finish, fail or requeue it.
    await assert.rejects(() => store.writeFlows(second.claim!, [flow(1)], 10), LostClaimError);
    await assert.rejects(
      () => store.finishJob(second.claim!, { firstUs: 0, lastUs: 0 }, 170),
      LostClaimError,
    );
    assert.equal(await store.failJob(b.id, 170, "x", second.claim!), false);
    assert.equal(await store.requeueJob(second.claim!), false);
    assert.equal(await store.renewLease(second.claim!, 170, 60), false);
    assert.equal((await store.job(b.id))!.claimedBy, "h:3");
    // The new holder finishes it.
    await store.writeFlows(taken.claim!, [flow(1), flow(2)], 10);
    await store.finishJob(taken.claim!, { firstUs: 1e6, lastUs: 2e6 }, 171);
    const done = (await store.job(b.id))!;
    assert.equal(done.state, "finished");
    assert.equal(done.flowsCount, 2);
    assert.deepEqual(await store.labelCounts(b.id), [{ label: "tcp", count: 2 }]);
  },
);

storeTest("claimJob() fails a job whose lease expired maxAttempts times", async (store) => {
  const a = await store.createJob(FILE, 10);
  let now = 100;
  for (let i = 1; i <= 2; i++) {
    const r = await store.claimJob(`h:${i}`, now, { leaseSeconds: 10, maxAttempts: 2 });
    assert.equal(r.job?.attempts, i);
    now += 11;
  }
  const r = await store.claimJob("h:3", now, { leaseSeconds: 10, maxAttempts: 2 });
  assert.equal(r.job, undefined);
  assert.deepEqual(r.failed, [a.id]);
  const job = (await store.job(a.id))!;
  assert.equal(job.state, "failed");
  assert.match(job.error!, /abandoned 2 times \(last by h:2\)/);
});

storeTest("finishJob() refuses a job that is not held", async (store) => {
  const a = await store.createJob(FILE, 10);
  await assert.rejects(
    () => store.finishJob({ jobId: a.id, by: "h:1", attempt: 1 }, { firstUs: 0, lastUs: 0 }, 11),
    LostClaimError,
  );
});

storeTest(
  "concurrent claimers on one store each get distinct jobs; every job is claimed once",
  async (store, where, kind) => {
    const ids = new Set<number>();
    for (let i = 0; i < 40; i++) {
      ids.add((await store.createJob({ ...FILE, name: `f${i}.pcap` }, 10)).id);
    }
    // PostgreSQL: six connections, as six hosts hold. SQLite: this thread's one connection,
    // its transactions taken in turn (a second connection in the same thread would wait on the
    // first one's lock while blocking the thread that holds it; SQLite's hosts are threads).
    const others = kind === "postgres"
      ? await Promise.all(
        Array.from({ length: 6 }, () => TractorStore.open(where, { connections: 2 })),
      )
      : Array.from({ length: 6 }, () => store);
    try {
      const got = await Promise.all(others.map(async (s, i) => {
        const mine: number[] = [];
        for (;;) {
          const r = await s.claimJob(`h:${i}`, 100, LEASE);
          if (!r.job) return mine;
          mine.push(r.job.id);
        }
      }));
      const all = got.flat();
      assert.equal(all.length, 40, "40 claims");
      assert.deepEqual(new Set(all), ids, "each job once");
      const rows = await store.sql.all("SELECT id, attempts, claimed_by FROM jobs ORDER BY id");
      for (const r of rows) {
        assert.equal(r.attempts, 1, `job ${r.id} claimed once`);
        const holder = Number(String(r.claimed_by).split(":")[1]);
        assert.ok(got[holder]!.includes(Number(r.id)), `job ${r.id} held by its claimer`);
      }
    } finally {
      if (kind === "postgres") await Promise.all(others.map((s) => s.close()));
    }
  },
);

Deno.test("portableSql() numbers placeholders for PostgreSQL and drops each engine's extras", () => {
  assert.equal(
    portableSql("SELECT * FROM t INDEXED BY i WHERE a = ? AND b IN (?, ?) AND c = '?'", "postgres"),
    "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3) AND c = '?'",
  );
  assert.equal(
    portableSql("WHERE a = ?1 OR b = ?2 OR c = ?1", "postgres"),
    "WHERE a = $1 OR b = $2 OR c = $1",
  );
  assert.equal(
    portableSql("SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", "sqlite"),
    "SELECT id FROM jobs ORDER BY id LIMIT 1",
  );
  assert.equal(
    portableSql("SELECT * FROM jobs WHERE id = ? FOR UPDATE", "sqlite"),
    "SELECT * FROM jobs WHERE id = ?",
  );
});

Deno.test("a PostgreSQL password never appears in what TrActor says", async () => {
  assert.equal(
    redactUrl("postgres://qts:s3cret@db.example:5432/tractor?sslmode=require&password=x"),
    "postgres://qts:***@db.example:5432/tractor?sslmode=require&password=***",
  );
  // Nothing listens on this port: the error names the server without the password.
  const port = freePort();
  const error = await TractorStore.open(`postgres://qts:s3cret@127.0.0.1:${port}/db`).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(error, "the open failed");
  assert.match(
    error.message,
    new RegExp(`Cannot connect to PostgreSQL postgres://qts:\\*\\*\\*@127.0.0.1:${port}/db`),
  );
  assert.doesNotMatch(error.message + String(error.stack), /s3cret/);
});

Deno.test("a second connection (the worker's) sees the server's writes", async () => {
  const at = await location("sqlite");
  const store = await TractorStore.open(at.where);
  try {
    const a = await store.createJob(FILE, 10);
    const other = new DatabaseSync(at.where);
    try {
      const row = other.prepare("SELECT state FROM jobs WHERE id = ?").get(a.id) as {
        state: string;
      };
      assert.equal(row.state, "new");
    } finally {
      other.close();
    }
  } finally {
    await store.close();
    await at.cleanup();
  }
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
    const store = await TractorStore.open(path);
    try {
      assert.deepEqual({ ...await store.sql.get("PRAGMA user_version") }, {
        user_version: SCHEMA_VERSION,
      });
      const { total, clients } = await store.clients(1, {
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
      const timeline = await store.timeline(1);
      assert.equal(timeline.reduce((a, r) => a + r.flows, 0), 2);
      assert.equal(timeline.reduce((a, r) => a + r.bytes, 0), 1000);
      assert.deepEqual(
        (await store.flows(1, { clientIp: "10.0.0.1", limit: 1, offset: 1 })).flows
          .map((f) => [f.flowId, f.firstMs]),
        [[2, 120_000]],
      );
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
