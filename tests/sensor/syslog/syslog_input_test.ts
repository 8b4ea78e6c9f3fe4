import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
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
      assert.deepEqual(bad, ["no_message", "not_json"]);
      assert.deepEqual(input.stats, { datagrams: 5, records: 3, bad: 2 });
    } finally {
      client.close();
      await input.close();
    }
  },
});
