import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { CaptureRepository } from "../../../src/analyzer/tractor/capture_repository.ts";
import { startTractor } from "../../../src/analyzer/tractor/start_tractor.ts";
import { ChildLines } from "./_child_lines.ts";
import { withTimeout } from "./_tractor_fixture.ts";
import { writeLargeCapture } from "./_large_capture.ts";

const MAIN = new URL("./_tractor_main.ts", import.meta.url).pathname;
const COPIES = 1500; // ~20 MB, 18,000 flows: a few seconds of processing
const FLOWS_PER_COPY = 12;

/** `qts tractor` as a child with the permissions the README gives (any loopback port here). */
/** `deno run` arguments for `qts tractor` with the permissions its help text lists. */
function tractorArgs(captures: string, state: string): string[] {
  return [
    "run",
    "--allow-net=127.0.0.1",
    "--allow-read",
    `--allow-write=${state}`,
    "--allow-env=LOG_TOKENS,LOG_STREAM",
    MAIN,
    "--captures",
    captures,
    "--state",
    state,
    "--listen",
    "127.0.0.1:0",
  ];
}

function spawnTractor(captures: string, state: string): {
  child: Deno.ChildProcess;
  out: ChildLines;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: tractorArgs(captures, state),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return { child, out: new ChildLines(child.stdout) };
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  return await res.json();
}

Deno.test({
  name:
    "qts tractor killed in the middle of a job resumes it after a restart; no job stays in_progress",
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "qts-tractor-restart-" });
    const captures = join(root, "captures");
    const state = join(root, "state");
    await Deno.mkdir(captures);
    await Deno.mkdir(state);
    await writeLargeCapture(join(captures, "big.pcap"), COPIES);
    let second: ReturnType<typeof spawnTractor> | undefined;
    try {
      const first = spawnTractor(captures, state);
      const url = (await first.out.waitFor(/listening on (\S+)/, 60_000))[1]!;
      const res = await fetch(`${url}files/process`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ file_name: "big.pcap" }),
      });
      const started = await res.json();
      assert.equal(started.state, "in_progress");
      const jobId = started.job_id as number;
      await first.out.waitFor(new RegExp(`job ${jobId} progress \\d+%`), 120_000);
      first.child.kill("SIGKILL");
      await first.child.status;
      await first.out.done;
      assert.equal(
        first.out.lines.some((l) => l.includes(`job ${jobId} finished`)),
        false,
        "killed before the job finished",
      );

      // What the kill left behind: the job in_progress with part of its flows written.
      const db = new DatabaseSync(join(state, "tractor.sqlite"));
      const row = db.prepare("SELECT state, bytes_done, size_bytes FROM jobs WHERE id = ?")
        .get(jobId) as { state: string; bytes_done: number; size_bytes: number };
      db.close();
      assert.equal(row.state, "in_progress");
      assert.ok(row.bytes_done < row.size_bytes);

      second = spawnTractor(captures, state);
      const url2 = (await second.out.waitFor(/listening on (\S+)/, 60_000))[1]!;
      await second.out.waitFor(new RegExp(`job ${jobId} resumed after a restart`), 10_000);
      await second.out.waitFor(new RegExp(`job ${jobId} (finished|failed)`), 300_000);

      const status = await getJson(`${url2}file/${jobId}/status`);
      assert.equal(status.state, "finished");
      const details = await getJson(`${url2}v1/file/${jobId}/details`);
      assert.equal(details.flows_count, COPIES * FLOWS_PER_COPY);
      const stats = await getJson(`${url2}file/${jobId}/statistics`) as unknown as {
        content: { count: number }[];
      }[];
      const sum = (i: number) => stats[i]!.content.reduce((n, c) => n + c.count, 0);
      assert.equal(sum(0), COPIES * FLOWS_PER_COPY, "flows per label add up (no duplicates)");
      assert.equal(sum(1), COPIES * FLOWS_PER_COPY, "flows per client add up");
      const list = await (await fetch(`${url2}files/list`)).json();
      assert.equal(list.length, 1);
      assert.equal(list[0].status.state, "finished");

      second.child.kill("SIGTERM");
      assert.equal((await second.child.status).code, 0);
      await second.out.done;
      second = undefined;
    } finally {
      if (second) {
        second.child.kill("SIGKILL");
        await second.child.status;
        await second.out.done;
      }
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("a second qts tractor on the same state directory refuses to start", async () => {
  const root = await Deno.makeTempDir({ prefix: "qts-tractor-lock-" });
  const captures = join(root, "captures");
  const state = join(root, "state");
  await Deno.mkdir(captures);
  await Deno.mkdir(state);
  const first = spawnTractor(captures, state);
  try {
    await first.out.waitFor(/listening on/, 60_000);
    const second = new Deno.Command(Deno.execPath(), {
      args: tractorArgs(captures, state),
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    });
    const out = await second.output();
    assert.equal(out.code, 1);
    assert.match(new TextDecoder().decode(out.stderr), /another qts tractor is using it/);
  } finally {
    first.child.kill("SIGTERM");
    assert.equal((await first.child.status).code, 0);
    await first.out.done;
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("closing TrActor during a job puts it back in the queue; the next start finishes it", async () => {
  const root = await Deno.makeTempDir({ prefix: "qts-tractor-close-" });
  const captures = join(root, "captures");
  const state = join(root, "state");
  await Deno.mkdir(captures);
  await writeLargeCapture(join(captures, "big.pcap"), COPIES);
  try {
    const progressed = Promise.withResolvers<void>();
    const first = await startTractor({
      capturesDir: captures,
      stateDir: state,
      log: (l) => / progress \d+%/.test(l) && progressed.resolve(),
    });
    const file = await new CaptureRepository(captures).resolve("big.pcap");
    const job = await first.runner.submit(file!);
    assert.equal(job.state, "in_progress");
    // Mid-job, with flows written: the worker must stop between transactions.
    await withTimeout(progressed.promise, 120_000, "job progress");
    await first.close();
    const check = new DatabaseSync(join(state, "tractor.sqlite"));
    const row = check.prepare("SELECT state FROM jobs WHERE id = ?").get(job.id) as {
      state: string;
    };
    check.close();
    assert.equal(row.state, "new");

    const lines: string[] = [];
    const second = await startTractor({
      capturesDir: captures,
      stateDir: state,
      log: (l) => lines.push(l),
    });
    try {
      const done = await second.runner.waitFor(job.id);
      assert.equal(done.state, "finished");
      assert.equal(done.flowsCount, COPIES * FLOWS_PER_COPY);
      assert.ok(
        lines.some((l) => l.startsWith(`job ${job.id} started on "big.pcap" by `)),
        lines.join("\n"),
      );
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
