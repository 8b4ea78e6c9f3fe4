import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Metrics } from "../../../src/shared/metrics/metrics.ts";
import { parseUdpEndpoint, SyslogInput } from "../../../src/sensor/syslog/syslog_input.ts";
import type { HttpRecord } from "../../../src/sensor/wire/record.ts";
import { clientAddress } from "../../../src/sensor/wire/record.ts";

Deno.test("parseUdpEndpoint() accepts udp://host:port and rejects the rest", () => {
  assert.deepEqual(parseUdpEndpoint("udp://127.0.0.1:5140"), {
    host: "127.0.0.1",
    port: 5140,
    v6: false,
  });
  assert.deepEqual(parseUdpEndpoint("udp://[::1]:5140"), { host: "::1", port: 5140, v6: true });
  assert.throws(() => parseUdpEndpoint("tcp://127.0.0.1:5140"), TypeError);
  assert.throws(() => parseUdpEndpoint("udp://127.0.0.1:99999"), TypeError);
});

Deno.test({
  name: "SyslogInput hands records of syslog datagrams to submit in order, counts bad ones",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const got: [number, HttpRecord][] = [];
    const bad: string[] = [];
    const { promise: four, resolve } = Promise.withResolvers<void>();
    const input = new SyslogInput({
      endpoint: "udp://127.0.0.1:0",
      domain: 7,
      submit: async (domain, record) => {
        await Promise.resolve();
        got.push([domain, record]);
        if (got.length === 3) resolve();
      },
      onBad: (reason) => bad.push(reason),
    });
    const bound = await input.start();
    const port = Number(bound.split(":").pop());
    const client = createSocket("udp4");
    await new Promise<void>((ok) => client.bind(0, "127.0.0.1", ok));
    const send = (text: string) =>
      new Promise<void>((ok, fail) =>
        client.send(new TextEncoder().encode(text), port, "127.0.0.1", (e) => e ? fail(e) : ok())
      );
    try {
      await send(
        '<190>Nov 26 12:00:00 qts: {"msec":"10.000","remote_addr":"192.0.2.1","url":"/a"}',
      );
      await send("<190>Nov 26 12:00:00 qts: no json here");
      await send('<190>Nov 26 12:00:01 qts: {"msec":"11.000","remote_addr":"192.0.2.2"');
      await send('<190>Nov 26 12:00:01 qts: {"msec":"12.5","remote_addr":"::1","domain":"9"}');
      await send('<190>Nov 26 12:00:02 qts: {"msec":"13","remote_addr":"192.0.2.3","url":"/c"}');
      const timer = setTimeout(resolve, 10_000);
      await four;
      clearTimeout(timer);
      await input.settled();
      assert.deepEqual(got.map(([d, r]) => [d, clientAddress(r), r.msec]), [
        [7, "192.0.2.1", "10.000"],
        [9, "::1", "12.5"],
        [7, "192.0.2.3", "13"],
      ]);
      assert.deepEqual(bad, ["no_json", "bad_json"]);
      assert.deepEqual(input.stats, {
        datagrams: 5,
        records: 3,
        bad: 2,
        rejected: { no_json: 1, bad_json: 1, not_object: 0, no_client: 0, no_time: 0 },
        submit_errors: 0,
      });
    } finally {
      client.close();
      await input.close();
    }
  },
});

/** Sends each text as one datagram to 127.0.0.1:port. */
async function sendAll(port: number, texts: string[]): Promise<void> {
  const client = createSocket("udp4");
  try {
    await new Promise<void>((ok) => client.bind(0, "127.0.0.1", ok));
    for (const text of texts) {
      await new Promise<void>((ok, fail) =>
        client.send(new TextEncoder().encode(text), port, "127.0.0.1", (e) => e ? fail(e) : ok())
      );
    }
  } finally {
    client.close();
  }
}

Deno.test({
  name: "SyslogInput counts datagrams, records, rejections by reason and submit errors in /metrics",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const metrics = new Metrics();
    const { promise: submitted, resolve } = Promise.withResolvers<void>();
    let calls = 0;
    const input = new SyslogInput({
      endpoint: "udp://127.0.0.1:0",
      metrics,
      submit: () => {
        if (++calls === 2) resolve();
        if (calls === 2) throw new Error("pipeline failed");
      },
    });
    // Every series is there from the start, at 0.
    assert.match(metrics.render(), /^qts_syslog_rejected_total\{reason="no_time"\} 0$/m);
    const port = Number((await input.start()).split(":").pop());
    try {
      await sendAll(port, [
        'qts: {"msec":"1","remote_addr":"192.0.2.1"}',
        "qts: no json",
        'qts: {"msec":"1"',
        'qts: {"msec":"1"}',
        'qts: {"remote_addr":"192.0.2.1"}',
        'qts: {"msec":"x","remote_addr":"192.0.2.1"}',
        'qts: {"msec":"2","remote_addr":"192.0.2.2"}',
      ]);
      const timer = setTimeout(resolve, 10_000);
      await submitted;
      clearTimeout(timer);
      await input.settled();
      const text = metrics.render();
      const value = (series: string) =>
        Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m").exec(text)?.[1]);
      assert.equal(value("qts_syslog_datagrams_total"), 7);
      assert.equal(value("qts_syslog_records_total"), 2);
      assert.equal(value('qts_syslog_rejected_total{reason="no_json"}'), 1);
      assert.equal(value('qts_syslog_rejected_total{reason="bad_json"}'), 1);
      assert.equal(value('qts_syslog_rejected_total{reason="no_client"}'), 1);
      assert.equal(value('qts_syslog_rejected_total{reason="no_time"}'), 2);
      assert.equal(value('qts_syslog_rejected_total{reason="not_object"}'), 0);
      assert.equal(value("qts_syslog_submit_errors_total"), 1);
      assert.match(text, /^# TYPE qts_syslog_datagrams_total counter$/m);
    } finally {
      await input.close();
    }
  },
});

Deno.test("SyslogInput.start() rejects with NotCapable naming host:port when --allow-net lacks it", async () => {
  // A child with a narrower --allow-net and no terminal (so Deno cannot prompt).
  const module = fileURLToPath(
    new URL("../../../src/sensor/syslog/syslog_input.ts", import.meta.url),
  );
  const dir = await Deno.makeTempDir();
  try {
    const script = join(dir, "bind.ts");
    await Deno.writeTextFile(
      script,
      `import { SyslogInput } from ${JSON.stringify(module)};\n` +
        `const input = new SyslogInput({ endpoint: "udp://127.0.0.1:5999", submit() {} });\n` +
        `try { await input.start(); console.log("bound"); } catch (e) {\n` +
        `  console.log(JSON.stringify({ name: e.name, capable: e instanceof Deno.errors.NotCapable, message: e.message }));\n` +
        `}\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net=127.0.0.1:5998", "--allow-read", script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(stderr, "", "no uncaught exception");
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      name: "NotCapable",
      capable: true,
      message: 'Requires net access to "127.0.0.1:5999", run again with the --allow-net flag',
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
