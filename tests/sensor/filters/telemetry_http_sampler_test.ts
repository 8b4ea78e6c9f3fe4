import assert from "node:assert/strict";
import { telemetryHttpSampler } from "../../../src/sensor/filters/telemetry_http_sampler.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";
import { decodeRecord, encodeRecord } from "../../../src/sensor/wire/mod.ts";

const config = { enabled: true, skip_if: [], rate: 0.25, file: "" };

Deno.test("telemetryHttpSampler() publishes the sampled fraction as JSON records", () => {
  const published: string[] = [];
  let i = 0;
  const sequence = [0.1, 0.3, 0.2499, 0.25, 0.9];
  const f = telemetryHttpSampler(config, {
    publish: (json) => published.push(json),
    random: () => sequence[i++ % sequence.length]!,
  });
  for (let n = 0; n < 10; n++) {
    const record = rec({ url: `/n${n}`, failed_servers: 5n, ip: "2001:db8::1" });
    const ctx = ctxFor(record, 1_700_000_000_500 + n, "first", { static: true, off: false });
    ctx.events.push("many_uas");
    f.run(record, ctx);
  }
  assert.equal(published.length, 4, "0.1 and 0.2499 of every 5 draws are < 0.25");
  const first = JSON.parse(published[0]!);
  assert.equal(first.url, "/n0");
  assert.equal(first.failed_servers, "5");
  assert.equal(first.remote_addr, "2001:db8::1");
  assert.equal(first.domain_id, 8984);
  assert.equal(first.time, 1_700_000_000.5);
  assert.deepEqual(first.flags, ["static"]);
  assert.deepEqual(first.events, ["many_uas"]);
  assert.equal(JSON.parse(published[1]!).url, "/n2");
  // Response halves are never sampled.
  f.run(rec(), ctxFor(rec(), 0, "response"));
  assert.equal(f.counters().sampled, 4);
});

Deno.test("telemetryHttpSampler() publishes a decoded record's wire fields, not its buffers", () => {
  const published: string[] = [];
  const f = telemetryHttpSampler({ ...config, rate: 1 }, {
    publish: (json) => published.push(json),
  });
  const decoded = decodeRecord(encodeRecord(rec({ url: "/wire", failed_servers: 7n })));
  assert.ok(decoded.ok);
  f.run(decoded.record, ctxFor(decoded.record, 1_700_000_000_000));
  const sent = JSON.parse(published[0]!);
  assert.equal(sent.url, "/wire");
  assert.equal(sent.method, "GET");
  assert.equal(sent.failed_servers, "7");
  assert.deepEqual(Object.keys(sent).filter((key) => key.startsWith("_")), []);
});

Deno.test("telemetryHttpSampler() appends JSON lines to a file and survives publish errors", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/telemetry.jsonl`;
  try {
    const f = telemetryHttpSampler({ ...config, rate: 1, file: path }, {
      publish() {
        throw new Error("socket gone");
      },
    });
    for (let n = 0; n < 3; n++) f.run(rec({ url: `/f${n}` }), ctxFor(rec(), n));
    f.sweep!(0);
    f.run(rec({ url: "/f3" }), ctxFor(rec(), 3));
    f.close!();
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l).url), ["/f0", "/f1", "/f2", "/f3"]);
    assert.equal(f.counters().failed, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("telemetryHttpSampler() rate 0 sends nothing; bad files fail at build", () => {
  const published: string[] = [];
  const f = telemetryHttpSampler({ ...config, rate: 0 }, { publish: (j) => published.push(j) });
  for (let n = 0; n < 100; n++) f.run(rec(), ctxFor(rec(), n));
  assert.equal(published.length, 0);
  assert.throws(
    () => telemetryHttpSampler({ ...config, file: "/nonexistent-dir/x.jsonl" }),
    /telemetry_http_sampler: file/,
  );
});
