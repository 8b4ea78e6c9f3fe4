/**
 * Several hosts, one queue: two real `qts tractor` processes on one PostgreSQL process a batch of
 * captures, and every job is done exactly once. Proven twice, independently: by the store's rows
 * (one job per capture, each finished after exactly one claim, by a process that exists) and by
 * the two processes' own logs (each job started and finished once in all, by the claimant the
 * row names).
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { TractorStore } from "../../../src/analyzer/tractor/tractor_store.ts";
import {
  type PostgresCluster,
  postgresMissing,
  startPostgres,
} from "../../_support/postgres_cluster.ts";
import { ChildLines } from "./_child_lines.ts";
import { CLIENTS_PCAP, FIXTURES } from "./_tractor_fixture.ts";
import { writeLargeCapture } from "./_large_capture.ts";

const MAIN = new URL("./_tractor_main.ts", import.meta.url).pathname;

/** Every committed capture: the per-application ones, the loopback ones, the clients one. */
async function batch(dir: string): Promise<string[]> {
  const sources = [CLIENTS_PCAP.pathname];
  for (const sub of ["captures/apps/", "captures/"]) {
    const at = new URL(sub, FIXTURES).pathname;
    for await (const e of Deno.readDir(at)) {
      if (e.isFile && /\.(pcap|pcapng)(\.gz)?$/.test(e.name)) sources.push(join(at, e.name));
    }
  }
  for (const s of sources) await Deno.copyFile(s, join(dir, basename(s)));
  return sources.map((s) => basename(s)).sort();
}

interface Host {
  child: Deno.ChildProcess;
  out: ChildLines;
  url: string;
  claimant: string;
}

/** `qts tractor --store <url>` with an operator's permissions (loopback net, no env but logs). */
async function startHost(captures: string, store: string, extra: string[] = []): Promise<Host> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env=LOG_TOKENS,LOG_STREAM,QTS_TRACTOR_TOKEN,QTS_TRACTOR_STORE,PG*",
      "--allow-sys=hostname",
      MAIN,
      "--captures",
      captures,
      "--store",
      store,
      "--listen",
      "127.0.0.1:0",
      "--workers",
      "1",
      "--poll",
      "100",
      ...extra,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = new ChildLines(child.stdout);
  const exited = child.status.then(({ code }) => {
    throw new Error(`qts tractor exited with ${code} before listening:\n${out.lines.join("\n")}`);
  });
  const url = (await Promise.race([out.waitFor(/listening on (\S+)/, 60_000), exited]))[1]!;
  exited.catch(() => {}); // its later, ordinary exit is not an error
  const claimant = (await out.waitFor(/claims as (\S+)\)/, 1000))[1]!;
  return { child, out, url, claimant };
}

async function stop(host: Host): Promise<number> {
  host.child.kill("SIGTERM");
  const { code } = await host.child.status;
  await host.out.done;
  return code;
}

/** A test with a throwaway cluster and a shared captures directory; hosts stopped at the end. */
function hostsTest(
  name: string,
  fn: (pg: PostgresCluster, captures: string, hosts: Host[]) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: postgresMissing !== undefined,
    async fn() {
      const pg = await startPostgres();
      const root = await Deno.makeTempDir({ prefix: "qts-tractor-hosts-" });
      const hosts: Host[] = [];
      try {
        // The shared capture directory every host sees.
        const captures = join(root, "captures");
        await Deno.mkdir(captures);
        await fn(pg, captures, hosts);
      } finally {
        const codes = await Promise.all(hosts.map(stop));
        await pg.stop();
        await Deno.remove(root, { recursive: true });
        assert.deepEqual(codes, hosts.map(() => 0), "every host stops cleanly");
      }
    },
  });
}

hostsTest(
  "two qts tractor processes on one PostgreSQL do each job of a batch exactly once",
  async (pg, captures, hosts) => {
    const files = await batch(captures);
    assert.ok(files.length >= 12, `a batch of ${files.length}`);
    hosts.push(await startHost(captures, pg.url), await startHost(captures, pg.url));
    const [a, b] = hosts as [Host, Host];
    assert.notEqual(a.claimant, b.claimant);
    assert.ok(a.claimant.endsWith(`:${a.child.pid}`), a.claimant);
    assert.ok(b.claimant.endsWith(`:${b.child.pid}`), b.claimant);

    // Submitted alternately to each host's API. With one worker each, a host claims a job the
    // moment it is free: A takes the first job at once and is busy with it (a job starts a
    // Worker) when B's first submission arrives, so B claims one too.
    const ids: number[] = [];
    for (const [i, name] of files.entries()) {
      const host = hosts[i % 2]!;
      const res = await fetch(new URL("files/process", host.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ file_name: name }),
      });
      const body = await res.json() as { job_id: number; state: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      ids.push(body.job_id);
    }
    assert.equal(new Set(ids).size, files.length, "one job per capture");
    // Each job ends on one of the two hosts: wait for its line in either log.
    for (const id of ids) {
      const ended = new RegExp(`^tractor: job ${id} (finished|failed)`);
      await Promise.any([a.out.waitFor(ended, 180_000), b.out.waitFor(ended, 180_000)]);
    }

    // The rows.
    const store = await TractorStore.open(pg.url, { connections: 1 });
    try {
      const rows = await store.sql.all(
        "SELECT id, file_name, state, attempts, claimed_by, flows_count, error FROM jobs ORDER BY id",
      );
      assert.deepEqual(rows.map((r) => Number(r.id)), [...ids].sort((x, y) => x - y));
      assert.deepEqual(rows.map((r) => r.file_name).sort(), files);
      for (const r of rows) {
        assert.equal(r.state, "finished", `job ${r.id} (${r.file_name}): ${r.error}`);
        assert.equal(r.attempts, 1, `job ${r.id} claimed exactly once`);
        assert.ok(
          r.claimed_by === a.claimant || r.claimed_by === b.claimant,
          `job ${r.id} claimed by ${r.claimed_by}`,
        );
        const n = await store.sql.get("SELECT count(*) AS n FROM flows WHERE job_id = ?", [
          Number(r.id),
        ]);
        assert.equal(n!.n, r.flows_count, `job ${r.id}: its flows written once`);
      }
      const total = await store.sql.get("SELECT count(*) AS n FROM flows");
      assert.equal(total!.n, rows.reduce((s, r) => s + Number(r.flows_count), 0));
      assert.ok(Number(total!.n) > 0);

      // The logs, independently: every job started and finished once in all, where the row says.
      for (const r of rows) {
        const started = new RegExp(`^tractor: job ${r.id} started on .* by (\\S+)$`);
        const finished = new RegExp(`^tractor: job ${r.id} finished`);
        const startsA = a.out.lines.filter((l) => started.test(l));
        const startsB = b.out.lines.filter((l) => started.test(l));
        assert.equal(startsA.length + startsB.length, 1, `job ${r.id} started once`);
        const by = startsA.length === 1 ? a.claimant : b.claimant;
        assert.equal(r.claimed_by, by, `job ${r.id}: the log and the row agree`);
        const ends = [...a.out.lines, ...b.out.lines].filter((l) => finished.test(l));
        assert.equal(ends.length, 1, `job ${r.id} finished once`);
      }
      const byA = rows.filter((r) => r.claimed_by === a.claimant).length;
      const byB = rows.length - byA;
      console.log(`jobs done by A: ${byA}, by B: ${byB} (of ${rows.length})`);
      assert.ok(byA > 0 && byB > 0, `both hosts took jobs (A ${byA}, B ${byB})`);
    } finally {
      await store.close();
    }
  },
);

hostsTest(
  "a host killed in the middle of a job loses it when its lease expires; another finishes it",
  async (pg, captures, hosts) => {
    const copies = 1500; // ~20 MB, 18,000 flows: seconds of work, so the kill lands mid-job
    await writeLargeCapture(join(captures, "big.pcap"), copies);
    const lease = ["--lease", "3"];
    const a = await startHost(captures, pg.url, lease);
    hosts.push(a);
    const res = await fetch(new URL("files/process", a.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file_name: "big.pcap" }),
    });
    const { job_id: id, state } = await res.json() as { job_id: number; state: string };
    assert.equal(state, "in_progress");
    await a.out.waitFor(new RegExp(`job ${id} progress \\d+%`), 120_000);
    a.child.kill("SIGKILL");
    await a.child.status;
    await a.out.done;
    hosts.shift();
    // B starts after the crash: the job is in_progress, held by a dead host, until its lease
    // runs out; then B takes it over and runs it from the start.
    const b = await startHost(captures, pg.url, lease);
    hosts.push(b);
    await b.out.waitFor(
      new RegExp(`job ${id} resumed: the lease of ${a.claimant.replaceAll(".", "\\.")} expired`),
      60_000,
    );
    await b.out.waitFor(new RegExp(`job ${id} finished: ${copies * 12} flows`), 180_000);
    // B counted what it did in /metrics: the expired lease it took over, the job it finished.
    const metrics = await (await fetch(new URL("metrics", b.url))).text();
    for (
      const series of [
        'qts_tractor_claims_total{result="taken_over"} 1',
        'qts_tractor_lease_expiries_total{outcome="taken_over"} 1',
        'qts_tractor_jobs_ended_total{outcome="finished"} 1',
      ]
    ) {
      assert.ok(metrics.split("\n").includes(series), `B's /metrics has ${series}`);
    }
    const flows = metrics.split("\n").filter((l) => l.startsWith("qts_tractor_flows_total{"))
      .reduce((a, l) => a + Number(l.split(" ").at(-1)), 0);
    assert.equal(flows, copies * 12, "B counted the flows of its run only");
    const store = await TractorStore.open(pg.url, { connections: 1 });
    try {
      const row = await store.sql.get(
        "SELECT state, attempts, claimed_by, flows_count FROM jobs WHERE id = ?",
        [id],
      );
      assert.deepEqual({ ...row }, {
        state: "finished",
        attempts: 2,
        claimed_by: b.claimant,
        flows_count: copies * 12,
      });
      const n = await store.sql.get("SELECT count(*) AS n FROM flows WHERE job_id = ?", [id]);
      assert.equal(n!.n, copies * 12, "the dead host's partial flows are gone");
    } finally {
      await store.close();
    }
  },
);
