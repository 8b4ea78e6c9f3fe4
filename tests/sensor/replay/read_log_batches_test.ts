import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readAccessLog } from "../../../src/sensor/replay/read_access_log.ts";
import { readLogBatches } from "../../../src/sensor/replay/read_log_batches.ts";
import { encodeRecord } from "../../../src/sensor/wire/mod.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/", import.meta.url));

function line(ip: string, second: number, url: string): string {
  const s = String(second).padStart(2, "0");
  return `${ip} - - [14/Nov/2023:22:13:${s} +0000] "GET ${url} HTTP/1.1" 200 12 "-" "Mozilla/5.0"`;
}

/** What readAccessLog and encodeRecord make of the logs, one record after another. */
async function expected(logs: string[], domain: number) {
  const out: { domain: number; t: number; body: Uint8Array }[] = [];
  for (const log of logs) {
    for await (const item of readAccessLog(log, { domain })) {
      out.push({ domain: item.domain, t: item.t, body: encodeRecord(item.record) });
    }
  }
  return out;
}

Deno.test({
  name: "readLogBatches() yields readAccessLog's records encoded, across batches and logs",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-log-batches-" });
    try {
      const own = join(dir, "access.log");
      const lines = [
        line("192.0.2.1", 0, "/"),
        "garbage that is not a log line",
        line("2001:db8::7", 1, "/x?" + "a".repeat(300)),
        "",
        "more garbage",
        line("198.51.100.9", 2, "/wp-login.php"),
      ];
      await Deno.writeTextFile(own, lines.join("\n") + "\n");
      const logs = [
        own,
        join(FIXTURES, "log-combined-fixed-list", "access.log"),
        join(FIXTURES, "log-json-many-uas", "access.json.log"),
      ];
      const want = await expected(logs, 77);
      const counts = { lines: 0, bad: 0 };
      const bad: string[] = [];
      const got: typeof want = [];
      const sizes: number[] = [];
      for await (
        const batch of readLogBatches(logs, {
          domain: 77,
          counts,
          batchSize: 3,
          badLines: 1,
          onBad: (log, n, text) => bad.push(`${log}:${n}:${text}`),
        })
      ) {
        sizes.push(batch.count);
        let start = 0;
        for (let i = 0; i < batch.count; i++) {
          got.push({
            domain: batch.domains[i]!,
            t: batch.times[i]!,
            body: batch.bytes.slice(start, batch.ends[i]!),
          });
          start = batch.ends[i]!;
        }
      }
      assert.ok(want.length > 6, "the fixtures hold records");
      assert.deepEqual(got, want);
      assert.ok(sizes.every((n) => n >= 1 && n <= 3));
      // Both bad lines are counted; only the first reaches onBad (badLines: 1).
      assert.deepEqual(bad, [`${own}:2:garbage that is not a log line`]);
      assert.equal(counts.bad, 2);
      assert.equal(counts.lines, want.length + 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "readLogBatches() throws naming a log it cannot read",
  sanitizeResources: false,
  async fn() {
    const missing = "/nonexistent/qts/access.log";
    await assert.rejects(async () => {
      for await (const _ of readLogBatches([missing], { domain: 1 })) { /* none */ }
    }, (error: Error) => error.message.startsWith(`${missing}: `));
  },
});
