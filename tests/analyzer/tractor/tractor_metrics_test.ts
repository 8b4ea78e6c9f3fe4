/**
 * TrActor's `GET /metrics`: what real captures, a damaged one and a broken one leave in the
 * counters (jobs, flows by label and source, `unknown` by reason, frames skipped, capture errors),
 * store errors, claims and expired leases, and API requests by route, never by raw path.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  FIXTURES,
  LOOPBACK_PCAPNG,
  processFile,
  type TractorFixture,
  tractorFixture,
  withTimeout,
} from "./_tractor_fixture.ts";

const OUT_OF_DOMAIN = new URL("captures/out-of-domain.pcap.gz", FIXTURES);
const LOOPBACK_PCAP = new URL("captures/loopback-sll2.pcap", FIXTURES);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (the samples; comments checked for a HELP and TYPE). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `where`. */
function sum(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) =>
    s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)
  ).reduce((a, s) => a + s.value, 0);
}

async function metrics(fx: TractorFixture): Promise<Sample[]> {
  const res = await fx.tractor.app.request("/metrics");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4");
  const text = await res.text();
  // Every family is declared before its samples.
  for (const name of new Set(parse(text).map((s) => s.name.replace(/_(bucket|sum|count)$/, "")))) {
    assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, "m"), name);
  }
  return parse(text);
}

/**
 * loopback-sll2.pcap with its first frame made ARP (not IP), its second one's IP version broken,
 * and its last record cut short: two frames skipped, then a truncated end.
 */
async function damagedCapture(): Promise<Uint8Array> {
  const bytes = await Deno.readFile(LOOPBACK_PCAP);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(20, true) & 0xffff, 276, "Linux SLL2");
  const first = 24 + 16; // frame of the first record
  dv.setUint16(first, 0x0806); // SLL2 protocol type: ARP
  const second = first + dv.getUint32(24 + 8, true) + 16;
  bytes[second + 20] = (bytes[second + 20]! & 0x0f) | 0x30; // IP version 3
  return bytes.slice(0, bytes.length - 10);
}

async function flowsOf(fx: TractorFixture, id: number): Promise<Map<string, number>> {
  const stats = (await fx.call(`/file/${id}/statistics`)).body as {
    title: string;
    content: { label: string; count: number }[];
  }[];
  return new Map(
    stats.find((s) => s.title === "protocols")!.content.map((c) => [c.label, c.count]),
  );
}

Deno.test("GET /metrics counts jobs, flows by label and source, unknown by reason and capture problems", async () => {
  const fx = await tractorFixture({
    copies: { "out-of-domain.pcap.gz": OUT_OF_DOMAIN, "loopback.pcapng": LOOPBACK_PCAPNG },
  });
  try {
    await Deno.writeFile(join(fx.captures, "damaged.pcap"), await damagedCapture());
    await Deno.writeTextFile(join(fx.captures, "broken.pcap"), "not a pcap at all, just text");
    const before = await metrics(fx);
    // The fixed label sets are there at 0 before anything happened.
    for (const reason of ["protocol", "port", "features", "confidence"]) {
      assert.equal(sum(before, "qts_tractor_flows_unknown_total", { reason }), 0, reason);
      assert.ok(before.some((s) => s.labels.reason === reason));
    }
    assert.equal(sum(before, "qts_tractor_jobs_ended_total"), 0);

    const ids = {
      ood: await processFile(fx, "out-of-domain.pcap.gz"),
      loopback: await processFile(fx, "loopback.pcapng"),
      damaged: await processFile(fx, "damaged.pcap"),
      broken: await processFile(fx, "broken.pcap"),
    };
    const broken = (await fx.call(`/file/${ids.broken}/status`)).body as Record<string, unknown>;
    assert.equal(broken.state, "failed");
    assert.match(
      String(broken.message),
      /^not a readable capture: Cannot read capture: unknown file magic 0x6e6f7420 at byte 0/,
    );
    const damaged = (await fx.call(`/file/${ids.damaged}/status`)).body as Record<string, unknown>;
    assert.equal(damaged.state, "finished");
    assert.match(String(damaged.message), /^Truncated pcap capture: pcap packet record at byte/);

    const m = await metrics(fx);
    // Jobs: by state in the store, by outcome here, with their durations.
    assert.equal(sum(m, "qts_tractor_jobs", { state: "finished" }), 3);
    assert.equal(sum(m, "qts_tractor_jobs", { state: "failed" }), 1);
    assert.equal(sum(m, "qts_tractor_jobs", { state: "new" }), 0);
    assert.equal(sum(m, "qts_tractor_jobs_ended_total", { outcome: "finished" }), 2);
    assert.equal(sum(m, "qts_tractor_jobs_ended_total", { outcome: "partial" }), 1);
    assert.equal(sum(m, "qts_tractor_jobs_ended_total", { outcome: "unreadable" }), 1);
    assert.equal(sum(m, "qts_tractor_jobs_ended_total"), 4);
    assert.equal(sum(m, "qts_tractor_job_duration_seconds_count"), 4);
    assert.equal(sum(m, "qts_tractor_job_duration_seconds_count", { outcome: "finished" }), 2);
    assert.equal(
      sum(m, "qts_tractor_job_duration_seconds_bucket", { le: "+Inf" }),
      sum(m, "qts_tractor_job_duration_seconds_count"),
    );
    assert.equal(sum(m, "qts_tractor_jobs_submitted_total", { result: "queued" }), 4);
    assert.equal(sum(m, "qts_tractor_claims_total", { result: "queued" }), 4);
    assert.equal(sum(m, "qts_tractor_claims_total", { result: "error" }), 0);

    // Flows: every flow of every finished job counted once, by the label the store holds.
    const labelled = new Map<string, number>();
    for (const id of [ids.ood, ids.loopback, ids.damaged]) {
      for (const [label, n] of await flowsOf(fx, id)) {
        labelled.set(label, (labelled.get(label) ?? 0) + n);
      }
    }
    for (const [label, n] of labelled) {
      assert.equal(sum(m, "qts_tractor_flows_total", { label }), n, label);
    }
    const files = (await fx.call("/files/list")).body as { flows_count?: number }[];
    const total = files.reduce((a, f) => a + (f.flows_count ?? 0), 0);
    assert.equal(sum(m, "qts_tractor_flows_total"), total);
    // Out of the model's domain: syslog (udp/514, udp/5140) and memcached are foreign services.
    const unknown = labelled.get("unknown") ?? 0;
    assert.ok(unknown >= 32, `${unknown} unknown flows`);
    assert.equal(
      sum(m, "qts_tractor_flows_total", { label: "unknown", source: "unknown" }),
      unknown,
    );
    assert.equal(sum(m, "qts_tractor_flows_unknown_total"), unknown, "every unknown has a reason");
    assert.ok(sum(m, "qts_tractor_flows_unknown_total", { reason: "port" }) >= 32);
    // Signatures stay first: DNS over loopback and HTTP.
    assert.ok(sum(m, "qts_tractor_flows_total", { label: "dns", source: "signature" }) >= 24);
    assert.ok(sum(m, "qts_tractor_flows_total", { label: "http", source: "signature" }) >= 40);
    assert.equal(sum(m, "qts_tractor_flows_total", { source: "none" }), 0);

    // The capture reader's problems: the damaged capture's two frames and its cut end, the
    // broken one's magic.
    assert.equal(sum(m, "qts_tractor_capture_packets_skipped_total", { reason: "not_ip" }), 1);
    assert.equal(sum(m, "qts_tractor_capture_packets_skipped_total", { reason: "bad_ip" }), 1);
    assert.equal(sum(m, "qts_tractor_capture_packets_skipped_total"), 2);
    assert.equal(sum(m, "qts_tractor_capture_errors_total", { kind: "truncated" }), 1);
    assert.equal(sum(m, "qts_tractor_capture_errors_total", { kind: "format" }), 1);
    assert.equal(sum(m, "qts_tractor_capture_errors_total"), 2);
    // 895 frames of out-of-domain, 132 of the loopback capture, 131 whole ones of the damaged.
    assert.equal(sum(m, "qts_tractor_capture_packets_total"), 895 + 132 + 131);
    assert.equal(sum(m, "qts_tractor_store_errors_total"), 0);

    // Requests by route as registered: the job id is a parameter, never part of the label.
    assert.equal(
      sum(m, "qts_tractor_api_requests_total", {
        route: "/files/process",
        method: "POST",
        status: "200",
      }),
      4,
    );
    await fx.call("/file/999/status");
    await fx.call("/v1/file/abc/status");
    await fx.call("/etc/passwd");
    const after = await metrics(fx);
    const routes = new Set(
      after.filter((s) => s.name === "qts_tractor_api_requests_total").map((s) => s.labels.route),
    );
    for (const r of routes) {
      assert.match(r!, /^\(unmatched\)$|^\/$|^(\/v1)?(\/[a-z_:]+)+$/, "a route as registered");
    }
    const status = { route: "/file/:job_id/status", method: "GET" };
    assert.equal(sum(after, "qts_tractor_api_requests_total", { ...status, status: "200" }), 2);
    assert.equal(sum(after, "qts_tractor_api_requests_total", { ...status, status: "404" }), 1);
    assert.equal(
      sum(after, "qts_tractor_api_requests_total", {
        route: "/v1/file/:job_id/status",
        status: "404",
      }),
      1,
    );
    assert.equal(
      sum(after, "qts_tractor_api_requests_total", { route: "(unmatched)", status: "404" }),
      1,
    );
    assert.equal(
      sum(after, "qts_tractor_api_requests_total", { route: "/metrics", status: "200" }),
      2,
    );
  } finally {
    await fx.close();
  }
});

Deno.test("GET /metrics counts store errors and still answers when the store fails", async () => {
  const fx = await tractorFixture({ copies: {} });
  try {
    await fx.tractor.store.sql.exec("DROP TABLE jobs");
    assert.equal((await fx.call("/files/list")).status, 500);
    const m = await metrics(fx); // its own count of jobs fails too
    assert.equal(sum(m, "qts_tractor_store_errors_total", { kind: "database" }), 2);
    assert.equal(sum(m, "qts_tractor_store_errors_total", { kind: "lost_claim" }), 0);
    assert.equal(
      sum(m, "qts_tractor_api_requests_total", { route: "/files/list", status: "500" }),
      1,
    );
  } finally {
    await fx.close();
  }
});

Deno.test("GET /metrics counts jobs taken over from an expired lease, and those given up", async () => {
  const fx = await tractorFixture({
    copies: { "loopback.pcapng": LOOPBACK_PCAPNG, "other.pcapng": LOOPBACK_PCAPNG },
  });
  try {
    const { store, runner } = fx.tractor;
    const file = { name: "loopback.pcapng", extension: "pcapng", sizeBytes: 1, mtimeMs: 0 };
    const past = Math.floor(Date.now() / 1000) - 3600;
    // A host that died holding two jobs: one claimed once, one claimed (and lost) three times
    // already (of another capture: finishing a job drops the older jobs of its file). Every
    // lease has run out by now, but not at the times of these claims.
    const expired = await store.createJob(file, past);
    await store.claimJob("dead:1", past, { leaseSeconds: 2000, maxAttempts: 3 });
    const abandoned = await store.createJob({ ...file, name: "gone.pcapng" }, past);
    for (let i = 0; i < 3; i++) {
      const r = await store.claimJob("dead:1", past + 1000 + i * 100, {
        leaseSeconds: 10,
        maxAttempts: 3,
      });
      assert.equal(r.job?.id, abandoned.id);
    }
    // A submission makes this runner claim: the expired ones first, oldest first.
    const queued = await processFile(fx, "other.pcapng");
    const done = await withTimeout(runner.waitFor(expired.id), 60_000, "the taken-over job");
    assert.equal(done.state, "finished");
    assert.equal((await store.job(abandoned.id))?.state, "failed");
    assert.equal((await store.job(queued))?.state, "finished");
    const m = await metrics(fx);
    assert.equal(sum(m, "qts_tractor_lease_expiries_total", { outcome: "given_up" }), 1);
    assert.equal(sum(m, "qts_tractor_lease_expiries_total", { outcome: "taken_over" }), 1);
    assert.equal(sum(m, "qts_tractor_claims_total", { result: "taken_over" }), 1);
    assert.equal(sum(m, "qts_tractor_claims_total", { result: "queued" }), 1);
    assert.equal(sum(m, "qts_tractor_jobs_ended_total", { outcome: "abandoned" }), 1);
    assert.equal(sum(m, "qts_tractor_jobs_ended_total", { outcome: "finished" }), 2);
    assert.equal(sum(m, "qts_tractor_lease_renewals_total", { result: "lost" }), 0);
  } finally {
    await fx.close();
  }
});
