import { parseIPv4 } from "../../src/shared/net/ip.ts";
import assert from "node:assert/strict";
import { emptyRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { memcachedMissing, startMemcached } from "./memcached/_memcached_server.ts";
import { pyzmqAvailable } from "../_support/pyzmq_available.ts";
import { startSensorPair } from "../_support/sensor_pair.ts";
import { metricValue, waitFor } from "../_support/sensor_process.ts";

const T0 = 1_700_000_000;
const skip = pyzmqAvailable() ?? memcachedMissing();
if (skip) console.warn(`skipping shared-memcached end-to-end test: ${skip}`);

function message(ip: string, at: number): Uint8Array[] {
  return [
    encodeHeader(8984),
    encodeRecord({
      ...emptyRecord(),
      timestamp: Math.floor(at),
      msec: at.toFixed(3),
      remote_ip: parseIPv4(ip)!,
      method: "GET",
      url: "/",
      host: "example.com",
    }),
  ];
}

function domainConfig(memcached: string): Record<string, unknown> {
  return {
    lua: { enabled: false },
    fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["192.0.2.0/24"] }] },
    // 2 r/s, no burst: one request every 0.4 s passes on each sensor alone (0.8 s apart) but
    // is over the rate for both together, so only shared counting rejects.
    limit_req_mc: {
      enabled: true,
      backend: "memcached",
      servers: [memcached],
      configurations: [{ name: "shared", rate: "2r/s", burst: 0, nodelay: true }],
    },
    lm: {
      use_component_projections: false,
      projections: [
        { name: "rate", events: "^loc_rate_", rule_name: "tsng.rate", state: "enabled" },
        { name: "bad", events: "^fixed_", rule_name: "tsng.bad", state: "enabled" },
      ],
    },
  };
}

Deno.test({
  name: "two qts serve processes share limit_req_mc through memcached and survive its death",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const memcached = await startMemcached();
    const { sensors, subs, pushes, close } = await startSensorPair(domainConfig(memcached.server));
    try {
      // One client's requests, 0.4 s apart, alternately through each sensor.
      // Each waits until filtered, so memcached sees them in time order across the two sensors.
      const filtered = async (i: number): Promise<number> =>
        (await (await fetch(`${sensors[i]!.api}/stats/8984`)).json()).data.http?.requests ?? 0;
      for (let i = 0; i < 10; i++) {
        await pushes[i % 2]!.send(message("198.51.100.50", T0 + i * 0.4));
        const expected = Math.floor(i / 2) + 1;
        await waitFor(
          "the record to be filtered",
          async () => (await filtered(i % 2)) >= expected ? true : undefined,
        );
      }
      // Sensor b sees its requests 0.8 s apart, within the rate on its own: only the state
      // shared through memcached (a's requests in between) makes it reject.
      const [frames] = await subs[1]!.receive(1, 15_000);
      const add = JSON.parse(new TextDecoder().decode(frames![0]));
      assert.deepEqual(
        [add.method, add.ip_addr, add.rule_name, add.comment, add.hoplite],
        ["add", "198.51.100.50", "tsng.rate", "loc_rate_shared_GET/", "b"],
      );
      // All five of b's requests are rejected, none of a's.
      const rejected = async (i: number) =>
        (await (await fetch(`${sensors[i]!.api}/stats/8984`)).json()).data.http;
      await waitFor(
        "b's five rejections",
        async () => (await rejected(1)).events["loc_rate_shared_GET/"] === 5 ? true : undefined,
      );
      assert.equal((await rejected(0)).events["loc_rate_shared_GET/"], undefined);

      // memcached dies: both sensors go on filtering (locally counted) and banning.
      await memcached.stop();
      for (const [i, push] of pushes.entries()) {
        for (let k = 0; k < 3; k++) await push.send(message(`198.51.100.${60 + i}`, T0 + 10 + k));
        await push.send(message(`192.0.2.${i + 1}`, T0 + 20));
      }
      for (const [i, sub] of subs.entries()) {
        const [frames] = await sub.receive(1, 15_000);
        const cmd = JSON.parse(new TextDecoder().decode(frames![0]));
        assert.deepEqual([cmd.method, cmd.ip_addr, cmd.rule_name], [
          "add",
          `192.0.2.${i + 1}`,
          "tsng.bad",
        ]);
        const text = await (await fetch(`${sensors[i]!.api}/metrics`)).text();
        assert.equal(metricValue(text, 'qts_records_total{domain="8984"}'), 9);
        assert.equal((await fetch(`${sensors[i]!.api}/healthz`)).status, 200);
      }
    } finally {
      await close();
      await memcached.stop();
    }
  },
});
