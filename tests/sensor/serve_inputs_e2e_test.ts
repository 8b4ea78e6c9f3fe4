import { parseIPv4 } from "../../src/shared/net/ip.ts";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { emptyRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { pyzmqAvailable } from "../_support/pyzmq_available.ts";
import { pyzmqPeer } from "../_support/pyzmq_peer.ts";
import { freePort, outboundSubscribed, startSensor } from "../_support/sensor_process.ts";

const skip = pyzmqAvailable();
if (skip) console.warn(`skipping input-mode end-to-end test: ${skip}`);

Deno.test({
  name: "qts serve: SUB input from a libzmq PUB, syslog_input from nginx lines, telemetry PUB out",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    await Deno.mkdir(join(dir, "filters"));
    await Deno.writeTextFile(
      join(dir, "filters", "8984.json"),
      JSON.stringify({
        lua: { enabled: false },
        telemetry_http_sampler: { rate: 1 },
        fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["203.0.113.0/24"] }] },
        lm: {
          use_component_projections: false,
          projections: [{
            name: "bad",
            events: "^fixed_",
            rule_name: "tsng.bad",
            state: "enabled",
          }],
        },
      }),
    );
    const [proxy, outbound, api, syslog, telemetry] = [
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ];
    const ini = join(dir, "qts.ini");
    await Deno.writeTextFile(
      ini,
      `[tsng]\ninput = tcp://127.0.0.1:${proxy}\ninput_socket = sub\nforce_domains = 8984\n` +
        `api_server_port = ${api}\nfilters_config_dir = ${join(dir, "filters")}\n` +
        `components_config_dir =\nstate_dir = ${join(dir, "state")}\nautodiscover = false\n` +
        `workers = 0\nsyslog_input = udp://127.0.0.1:${syslog}\n` +
        `[tsng:qpc]\noutbound = tcp://127.0.0.1:${outbound}\n` +
        `[tsng:telemetry]\noutbound = tcp://127.0.0.1:${telemetry}\n`,
    );
    // The proxy binds a PUB; the sensor connects its SUB to it and subscribes to "http:".
    const pub = await pyzmqPeer({
      type: "PUB",
      mode: "bind",
      endpoint: `tcp://127.0.0.1:${proxy}`,
    });
    const sensor = await startSensor(ini);
    const sub = await pyzmqPeer({
      type: "SUB",
      mode: "connect",
      endpoint: `tcp://127.0.0.1:${outbound}`,
    });
    const samples = await pyzmqPeer({
      type: "SUB",
      mode: "connect",
      endpoint: `tcp://127.0.0.1:${telemetry}`,
    });
    const udp = createSocket("udp4");
    try {
      await samples.subscribe(new Uint8Array(0));
      await sub.subscribe(new Uint8Array(0));
      await outboundSubscribed(sensor.api);
      const record = (ip: string) =>
        encodeRecord({ ...emptyRecord(), remote_ip: parseIPv4(ip)!, method: "GET", url: "/" });
      // Publish until the sensor's subscription has arrived (the slow-joiner case), then stop.
      await pub.probe([encodeHeader(8984), record("203.0.113.1")]);
      const [first] = await sub.receive(1, 15_000);
      await pub.stopProbe();
      const add = JSON.parse(new TextDecoder().decode(first![0]));
      assert.deepEqual([add.method, add.ip_addr, add.rule_name], [
        "add",
        "203.0.113.1",
        "tsng.bad",
      ]);

      // A message on a topic the sensor did not subscribe to never reaches it.
      await pub.send([new TextEncoder().encode("other:8984:"), record("203.0.113.2")]);

      // nginx's syslog line (config/nginx/qts.conf format) for a black-listed client.
      const line = `<190>Nov 26 12:00:00 nginx: ${
        JSON.stringify({
          msec: "1700000000.123",
          remote_addr: "203.0.113.3",
          domain: "8984",
          method: "GET",
          url: "/login",
          host: "example.com",
          status: "200",
        })
      }`;
      await new Promise<void>((ok) => udp.bind(0, "127.0.0.1", ok));
      await new Promise<void>((ok, fail) =>
        udp.send(new TextEncoder().encode(line), syslog, "127.0.0.1", (e) => e ? fail(e) : ok())
      );
      const [second] = await sub.receive(1, 15_000);
      const fromLog = JSON.parse(new TextDecoder().decode(second![0]));
      assert.deepEqual([fromLog.method, fromLog.ip_addr], ["add", "203.0.113.3"]);
      // telemetry_http_sampler at rate 1: every record is published as JSON on its PUB.
      const [sample] = await samples.receive(1, 15_000);
      const json = JSON.parse(new TextDecoder().decode(sample![0]));
      assert.equal(json.domain_id, 8984);
      assert.ok(["203.0.113.1", "203.0.113.3"].includes(json.remote_addr), json.remote_addr);
      const bans = await (await fetch(`${sensor.api}/bans/8984`)).json();
      assert.deepEqual(bans.data.map((b: { ip: string }) => b.ip).sort(), [
        "203.0.113.1",
        "203.0.113.3",
      ]);
    } finally {
      udp.close();
      await samples.close();
      await sub.close();
      await sensor.stop();
      await pub.close();
    }
  },
});
