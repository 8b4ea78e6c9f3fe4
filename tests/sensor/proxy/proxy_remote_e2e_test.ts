/**
 * `qts proxy` alone in front of a site, a separate `qts serve` deciding: records go to the
 * sensor over ZeroMQ in the wire format (`records_to`), bans come back off its PUB
 * (`bans_from`) and, at start, from its `GET /bans` (`bans_api`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  freePort,
  metricValue,
  outboundSubscribed,
  sensorIni,
  startSensor,
  waitFor,
} from "../../_support/sensor_process.ts";
import { FLOOD_DOMAIN, startQtsProxy, startUpstream } from "./_processes.ts";

Deno.test({
  name:
    "qts proxy with records_to and bans_from: a remote sensor bans a flood, the proxy refuses it, " +
    "keeps refusing after a restart, and lets it back in when the ban is lifted",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-proxy-remote-" });
    const sensorPorts = await sensorIni(dir, "sensor", FLOOD_DOMAIN);
    const p = { up: freePort(), web: freePort(), api: freePort() };
    const ini = join(dir, "proxy.ini");
    await Deno.writeTextFile(
      ini,
      `[proxy]
api = 127.0.0.1:${p.api}
trusted_proxies = 127.0.0.1
records_to = tcp://127.0.0.1:${sensorPorts.input}
bans_from = tcp://127.0.0.1:${sensorPorts.outbound}
bans_api = http://127.0.0.1:${sensorPorts.api}
[proxy:http:web]
listen = 127.0.0.1:${p.web}
pool = web
[proxy:pool:web]
servers = 127.0.0.1:${p.up}
`,
    );
    const up = await startUpstream("http", p.up, "site");
    const sensor = await startSensor(sensorPorts.ini);
    let proxy = await startQtsProxy(ini);
    const base = `http://127.0.0.1:${p.web}`;
    const as = async (ip: string) => {
      const res = await fetch(`${base}/`, { headers: { "x-forwarded-for": ip } });
      await res.body?.cancel();
      return res.status;
    };
    const proxyStatus = async () =>
      (await (await fetch(`http://127.0.0.1:${p.api}/proxy`)).json()).data as { bans: number };
    try {
      // The proxy's SUB reaches the sensor's PUB before anything is banned.
      await outboundSubscribed(sensor.api);
      assert.equal(await as("192.0.2.50"), 200);
      const flood: number[] = [];
      for (let i = 0; i < 40; i++) flood.push(await as("192.0.2.66"));
      const ban = await waitFor("the remote sensor to ban the flooding address", async () => {
        const bans = await (await fetch(`${sensor.api}/bans/8984`)).json();
        return bans.data.find((x: { ip: string }) => x.ip === "192.0.2.66");
      });
      assert.equal(ban.rule_name, "tsng.proxy_flood");
      assert.ok(flood.filter((s) => s === 200).length >= 5, "the flood was proxied until the ban");
      await waitFor(
        "the proxy to refuse the banned address",
        async () => (await as("192.0.2.66")) === 403 ? true : undefined,
      );
      assert.equal(await as("192.0.2.50"), 200, "another client still passes");
      // The sensor saw every proxied request over ZeroMQ (refused ones are never proxied, so
      // they make no record); records travel asynchronously, so the last may land after the ban.
      const proxied = 1 + flood.filter((s) => s === 200).length;
      await waitFor(`the sensor to count the proxy's ${proxied} records`, async () => {
        const sensorMetrics = await (await fetch(`${sensor.api}/metrics`)).text();
        const seen = metricValue(sensorMetrics, 'qts_records_total{domain="8984"}') ?? 0;
        return seen >= proxied ? true : undefined;
      });

      // A restart while the ban holds: the proxy loads the sensor's bans before it listens,
      // so the very first request of the banned client is refused.
      await proxy.stop();
      proxy = await startQtsProxy(ini);
      assert.equal(await as("192.0.2.66"), 403, "refused again right after the restart");
      assert.equal(await as("192.0.2.50"), 200);
      const metrics = await (await fetch(`http://127.0.0.1:${p.api}/metrics`)).text();
      assert.equal(
        metricValue(metrics, 'qts_proxy_ban_resyncs_total{result="ok"}'),
        1,
        "one resync from GET /bans at start",
      );

      // `qts serve` with an in-process proxy that follows the remote sensor (`bans_from`)
      // loads its bans before listening, too.
      const edgePorts = await sensorIni(dir, "edge", FLOOD_DOMAIN);
      const edgeWeb = freePort();
      await Deno.writeTextFile(
        edgePorts.ini,
        (await Deno.readTextFile(edgePorts.ini)) +
          `[proxy]
enabled = true
trusted_proxies = 127.0.0.1
bans_from = tcp://127.0.0.1:${sensorPorts.outbound}
bans_api = http://127.0.0.1:${sensorPorts.api}
[proxy:http:web]
listen = 127.0.0.1:${edgeWeb}
pool = web
[proxy:pool:web]
servers = 127.0.0.1:${p.up}
`,
      );
      const edge = await startSensor(edgePorts.ini);
      try {
        const first = await fetch(`http://127.0.0.1:${edgeWeb}/`, {
          headers: { "x-forwarded-for": "192.0.2.66" },
        });
        await first.body?.cancel();
        assert.equal(first.status, 403, "the in-process proxy refuses from its first request");
        const edgeMetrics = await (await fetch(`${edge.api}/metrics`)).text();
        assert.equal(metricValue(edgeMetrics, 'qts_proxy_ban_resyncs_total{result="ok"}'), 1);
        // Loaded before it listened, not raced by the first client.
        const order = edge.logs.map((l) => l.msg);
        const loaded = order.indexOf("bans loaded from the sensor");
        assert.ok(
          loaded >= 0 && loaded < order.indexOf("qts proxy listening"),
          JSON.stringify(order),
        );
      } finally {
        await edge.stop();
      }

      // Lifting the ban at the sensor (DELETE /bans/...) reaches the proxy as a `del`.
      await outboundSubscribed(sensor.api);
      const del = await fetch(`${sensor.api}/bans/8984/192.0.2.66`, { method: "DELETE" });
      assert.equal(del.status, 200);
      await del.body?.cancel();
      await waitFor(
        "the proxy to drop the lifted ban",
        async () => (await proxyStatus()).bans === 0 ? true : undefined,
      );
      assert.equal(await as("192.0.2.66"), 200, "the client is let back in");
    } finally {
      await proxy.stop();
      await sensor.stop();
      await up.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
