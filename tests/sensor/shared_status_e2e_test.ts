import { parseIPv4 } from "../../src/shared/net/ip.ts";
import assert from "node:assert/strict";
import { emptyRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { memcachedMissing, startMemcached } from "./memcached/_memcached_server.ts";
import { pyzmqAvailable } from "../_support/pyzmq_available.ts";
import { startSensorPair } from "../_support/sensor_pair.ts";
import { metricValue, waitFor } from "../_support/sensor_process.ts";

const T0 = 1_700_000_400;
const skip = pyzmqAvailable() ?? memcachedMissing();
if (skip) console.warn(`skipping shared response_status end-to-end test: ${skip}`);

/** A completed record (req_type 1) of a login attempt answered `status`. */
function message(ip: string, at: number, status: number): Uint8Array[] {
  return [
    encodeHeader(8984),
    encodeRecord({
      ...emptyRecord(),
      timestamp: Math.floor(at),
      msec: at.toFixed(3),
      remote_ip: parseIPv4(ip)!,
      req_type: 1,
      status,
      method: "POST",
      url: "/login",
      host: "example.com",
    }),
  ];
}

function domainConfig(memcached: string): Record<string, unknown> {
  return {
    lua: { enabled: false },
    fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["192.0.2.0/24"] }] },
    // Six failed logins within a minute: each sensor sees three of the attacker's, so only
    // the count shared through memcached reaches six.
    response_status: {
      enabled: true,
      skip_if: [],
      backend: "memcached",
      servers: [memcached],
      timeout_ms: 200,
      rules: [{ name: "auth", status: [401], count: 6, window: 60, min_share: 0.5 }],
    },
    lm: {
      use_component_projections: false,
      projections: [
        { name: "status", events: "^status_", rule_name: "tsng.status", state: "enabled" },
        { name: "bad", events: "^fixed_", rule_name: "tsng.bad", state: "enabled" },
      ],
    },
  };
}

Deno.test({
  name: "two qts serve processes count an attacker's failed logins together through memcached",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const memcached = await startMemcached();
    const { sensors, subs, pushes, close } = await startSensorPair(domainConfig(memcached.server));
    const http = async (i: number) =>
      (await (await fetch(`${sensors[i]!.api}/stats/8984`)).json()).data.http;
    const metrics = async (i: number) => await (await fetch(`${sensors[i]!.api}/metrics`)).text();
    const counter = (text: string, name: string) =>
      metricValue(
        text,
        `qts_filter_counter_total{domain="8984",filter="response_status",counter="${name}"}`,
      ) ?? 0;
    try {
      // Six failed logins, 2 s apart, alternately through each sensor; each waits until
      // filtered, so memcached counts them in time order across the two.
      for (let i = 0; i < 6; i++) {
        await pushes[i % 2]!.send(message("198.51.100.50", T0 + i * 2, 401));
        const expected = Math.floor(i / 2) + 1;
        await waitFor(
          "the record to be filtered",
          async () => ((await http(i % 2))?.requests ?? 0) >= expected ? true : undefined,
        );
      }
      // b's third failure is the sixth of the attacker's: b bans it. Neither saw six.
      const [frames] = await subs[1]!.receive(1, 15_000);
      const add = JSON.parse(new TextDecoder().decode(frames![0]));
      assert.deepEqual(
        [add.method, add.ip_addr, add.rule_name, add.comment, add.hoplite],
        ["add", "198.51.100.50", "tsng.status", "status_auth", "b"],
      );
      await waitFor(
        "b's event",
        async () => (await http(1)).events["status_auth"] === 1 ? true : undefined,
      );
      assert.equal((await http(0)).events["status_auth"], undefined, "a saw three of six");
      for (const i of [0, 1]) {
        const text = await metrics(i);
        assert.equal(counter(text, "shared"), 3, `sensor ${i} counted in memcached`);
        assert.equal(counter(text, "fallback"), 0);
      }

      // memcached dies: both sensors go on filtering, counting failures locally, and banning.
      await memcached.stop();
      for (const [i, push] of pushes.entries()) {
        const ip = `198.51.100.${60 + i}`;
        for (let k = 0; k < 6; k++) await push.send(message(ip, T0 + 30 + k, 401));
        await push.send(message(`192.0.2.${i + 1}`, T0 + 40, 200));
      }
      for (const [i, sub] of subs.entries()) {
        const received = await sub.receive(2, 15_000);
        const commands = received.map(([frame]) => JSON.parse(new TextDecoder().decode(frame)));
        assert.deepEqual(
          commands.map((cmd) => [cmd.method, cmd.ip_addr, cmd.rule_name]),
          [
            ["add", `198.51.100.${60 + i}`, "tsng.status"],
            ["add", `192.0.2.${i + 1}`, "tsng.bad"],
          ],
        );
        const text = await metrics(i);
        assert.equal(metricValue(text, 'qts_records_total{domain="8984"}'), 10);
        assert.ok(counter(text, "fallback") >= 6, `sensor ${i} counted locally`);
        assert.equal((await fetch(`${sensors[i]!.api}/healthz`)).status, 200);
      }
    } finally {
      await close();
      await memcached.stop();
    }
  },
});
