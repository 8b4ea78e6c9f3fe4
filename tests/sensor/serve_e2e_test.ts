import { parseIPv4 } from "../../src/shared/net/ip.ts";
import assert from "node:assert/strict";
import { SEED_COMMAND_KEYS } from "../_support/seed.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { emptyRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { pyzmqAvailable } from "../_support/pyzmq_available.ts";
import { pyzmqPeer } from "../_support/pyzmq_peer.ts";
import { Sensor } from "../../src/sensor/sensor.ts";
import { loadSettings } from "../../src/shared/config/settings.ts";
import { createLogger } from "../../src/shared/log/logger.ts";
import {
  freePort,
  metricValue,
  outboundSubscribed,
  startSensor,
} from "../_support/sensor_process.ts";

const T0 = 1_700_000_000;
const GEO_DB = fileURLToPath(new URL("../fixtures/geo/test-country.mmdb", import.meta.url));
const skip = pyzmqAvailable();
if (skip) console.warn(`skipping sensor end-to-end tests: ${skip}`);

/** FNV-1a, as the sensor shards client IPs over workers (an independent copy). */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function message(domain: number, ip: string, at: number, url = "/"): Uint8Array[] {
  const record = {
    ...emptyRecord(),
    timestamp: Math.floor(at),
    msec: at.toFixed(3),
    remote_ip: parseIPv4(ip)!,
    method: "GET",
    url,
    host: "example.com",
    http_user_agent: "Mozilla/5.0",
  };
  return [encodeHeader(domain), encodeRecord(record)];
}

function domainConfig(scanState: "auto" | "disabled") {
  return {
    fixed_lists: {
      lists: [
        { name: "bad", type: "black", entries: ["198.51.100.0/24"] },
        { name: "good", type: "white", entries: ["198.51.100.7"] },
        { name: "scan", type: "black", entries: ["203.0.113.0/24"] },
      ],
    },
    limit_req_mc: { enabled: false },
    lua: { enabled: false },
    lm: {
      use_component_projections: false,
      projections: [
        {
          name: "bad",
          events: "^fixed_bad$",
          rule_name: "tsng.fixed",
          state: "enabled",
          timeout: 86400,
          skip_if: ["whitelisted"],
        },
        {
          name: "scan",
          events: "^fixed_scan$",
          rule_name: "tsng.scan",
          state: scanState,
          timeout: 86400,
          nursery: { events: 20, ips: 1 },
          activation: { events: 40, ips: 3 },
          watch_ttl: 3600,
        },
      ],
    },
  };
}

Deno.test({
  name: "Sensor.start() serves the API before it binds the outbound PUB, so a bouncer can resync",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const [input, outbound, api] = [freePort(), freePort(), freePort()];
    const settings = loadSettings(
      `[tsng]\ninput = tcp://127.0.0.1:${input}\napi_server_port = ${api}\n` +
        `filters_config_dir = ${join(dir, "filters")}\n` +
        `components_config_dir = ${join(dir, "components")}\nstate_dir = ${join(dir, "state")}\n` +
        `autodiscover = false\nworkers = 0\nhostname = order-host\n` +
        `[tsng:qpc]\noutbound = tcp://127.0.0.1:${outbound}\n`,
      "order test",
    );
    const sensor = new Sensor({ settings, log: createLogger({ write: () => {} }) });
    // A bouncer whose SUB connects the moment the PUB binds asks GET /bans at once.
    let atBind: unknown;
    const bind = sensor.publisher.bind.bind(sensor.publisher);
    sensor.publisher.bind = async (endpoint: string) => {
      try {
        const response = await fetch(`http://127.0.0.1:${api}/bans`);
        atBind = { status: response.status, body: await response.json() };
      } catch (error) {
        atBind = (error as Error).name;
      }
      return await bind(endpoint);
    };
    try {
      await sensor.start();
      assert.deepEqual(atBind, { status: 200, body: { status: "success", data: [] } });
      assert.equal(sensor.bound.outbound, `tcp://127.0.0.1:${outbound}`);
    } finally {
      await sensor.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

for (const workers of [0, 2]) {
  Deno.test({
    name:
      `qts serve (workers=${workers}): libzmq records in, exact JSON commands out, across reload and restart`,
    ignore: skip !== undefined,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const dir = await Deno.makeTempDir();
      await Deno.mkdir(join(dir, "filters"));
      await Deno.writeTextFile(
        join(dir, "filters", "8984.json"),
        JSON.stringify(domainConfig("auto")),
      );
      const [input, outbound, api] = [freePort(), freePort(), freePort()];
      const ini = join(dir, "qts.ini");
      await Deno.writeTextFile(
        ini,
        `[tsng]\ninput = tcp://127.0.0.1:${input}\nforce_domains = 8984\n` +
          `api_server_port = ${api}\nfilters_config_dir = ${join(dir, "filters")}\n` +
          `components_config_dir = ${join(dir, "components")}\nstate_dir = ${
            join(dir, "state")
          }\n` +
          `autodiscover = false\nworkers = ${workers}\nhostname = e2e-host\ngeoip_db = ${GEO_DB}\n` +
          `[tsng:qpc]\noutbound = tcp://127.0.0.1:${outbound}\n`,
      );

      let sensor = await startSensor(ini, ["--clock", "record"]);
      const sub = await pyzmqPeer({
        type: "SUB",
        mode: "connect",
        endpoint: `tcp://127.0.0.1:${outbound}`,
      });
      const push = await pyzmqPeer({
        type: "PUSH",
        mode: "connect",
        endpoint: `tcp://127.0.0.1:${input}`,
      });
      const received: Record<string, unknown>[] = [];
      const take = async (n: number) => {
        for (const frames of await sub.receive(n, 15_000)) {
          received.push(JSON.parse(new TextDecoder().decode(frames[0])));
        }
        return received.slice(-n);
      };
      try {
        await sub.subscribe(new Uint8Array(0));
        const metrics = async () => await (await fetch(`${sensor.api}/metrics`)).text();
        await outboundSubscribed(sensor.api);

        // A black-listed IP: one add with the list's event as comment.
        await push.send(message(8984, "198.51.100.9", T0));
        const [black] = await take(1);
        assert.deepEqual(Object.keys(black!), SEED_COMMAND_KEYS);
        assert.deepEqual(
          { ...black, timestamp: undefined },
          {
            domain_id: 8984,
            comment: "fixed_bad",
            rule_name: "tsng.fixed",
            method: "add",
            ip_addr: "198.51.100.9",
            geo: "US",
            timestamp: undefined,
            timeout: 86400,
            worker: `wrk_${workers === 0 ? 1 : fnv1a("198.51.100.9") % workers + 1}`,
            broadcast: false,
            hoplite: "e2e-host",
          },
        );
        assert.equal(black!.timestamp, T0);

        // White-listed and black-listed at once: nothing. Repeats of a banned IP: nothing.
        await push.send(message(8984, "198.51.100.7", T0 + 1));
        await push.send(message(8984, "198.51.100.9", T0 + 2));

        // Garbage on the input socket: counted by reason, the next good record still processed.
        const enc = new TextEncoder();
        await push.send([enc.encode("http:8984:")]);
        await push.send([enc.encode("http:4242:"), encodeRecord(emptyRecord())]);
        await push.send([enc.encode("http:8984:"), new Uint8Array(3)]);
        const oversized = encodeRecord(emptyRecord());
        new DataView(oversized.buffer).setUint32(488, 0x7fffffff, true);
        await push.send([enc.encode("http:8984:"), oversized]);

        // Low traffic on the auto projection: it stays in nursery, no command.
        for (let i = 0; i < 3; i++) await push.send(message(8984, "203.0.113.1", T0 + 5 + i));
        // An attack: 30 events in one window → watch at the next tick.
        for (let i = 0; i < 30; i++) {
          await push.send(message(8984, `203.0.113.${1 + (i % 4)}`, T0 + 35 + i * 0.5));
        }
        // 50 more from 5 IPs while watched → block at the next tick, adds for the watched IPs.
        for (let i = 0; i < 50; i++) {
          await push.send(message(8984, `203.0.113.${1 + (i % 5)}`, T0 + 65 + i * 0.4));
        }
        await push.send(message(8984, "203.0.113.6", T0 + 95));
        const attack = await take(6);
        const scanIps = attack.map((c) => c.ip_addr).sort();
        assert.deepEqual(scanIps, [1, 2, 3, 4, 5, 6].map((n) => `203.0.113.${n}`));
        for (const cmd of attack) {
          assert.equal(cmd.method, "add");
          assert.equal(cmd.rule_name, "tsng.scan");
          assert.equal(cmd.comment, "fixed_scan");
          assert.equal(cmd.geo, "RU");
        }
        // The one from the blocking projection's own event comes last.
        assert.equal(attack[5]!.ip_addr, "203.0.113.6");

        const text = await metrics();
        const families = text.split("\n").filter((l) => l.startsWith("# TYPE ")).map((l) =>
          l.split(" ")[2]
        );
        assert.deepEqual(families, [...new Set(families)], "a metric family appears twice");
        assert.ok(families.includes("qts_http_requests_total"), "statstore counters missing");
        assert.equal(metricValue(text, 'qts_input_dropped_total{reason="bad_frame_count"}'), 1);
        assert.equal(metricValue(text, 'qts_input_dropped_total{reason="unknown_domain"}'), 1);
        assert.equal(metricValue(text, 'qts_input_dropped_total{reason="short_body"}'), 1);
        assert.equal(metricValue(text, 'qts_input_dropped_total{reason="bad_length"}'), 1);
        // Every add's time from the source's first event, by rule: 7 bans of tsng.scan/fixed.
        const banned = ["tsng.scan", "tsng.fixed"].reduce(
          (n, rule) =>
            n +
            (metricValue(
              text,
              `qts_time_to_ban_seconds_count{rule_name="${rule}",simulated="false"}`,
            ) ?? 0),
          0,
        );
        assert.equal(banned, 7);

        // Restart: bans are restored, no duplicate add for a banned IP.
        assert.equal(await sensor.stop(), 0);
        sensor = await startSensor(ini, ["--clock", "record"]);
        const bans = await (await fetch(`${sensor.api}/bans/8984`)).json();
        assert.equal(bans.status, "success");
        assert.equal(bans.data.length, 7);
        await outboundSubscribed(sensor.api);
        await push.send(message(8984, "198.51.100.9", T0 + 100));
        await push.send(message(8984, "203.0.113.2", T0 + 101));

        // Disabling the projection through a config reload: del for each of its active IPs.
        await Deno.writeTextFile(
          join(dir, "filters", "8984.json"),
          JSON.stringify(domainConfig("disabled")),
        );
        const reload = await fetch(`${sensor.api}/reload_filters`, { method: "POST" });
        assert.deepEqual(await reload.json(), { status: "success" });
        const dels = await take(6);
        assert.deepEqual(dels.map((c) => c.ip_addr).sort(), scanIps);
        for (const cmd of dels) {
          assert.equal(cmd.method, "del");
          assert.equal(cmd.rule_name, "tsng.scan");
          assert.equal("timeout" in cmd, false);
        }
        assert.ok(
          !received.some((c) => c.ip_addr === "198.51.100.7"),
          "white-listed IP was banned",
        );
        assert.equal(received.filter((c) => c.ip_addr === "198.51.100.9").length, 1);
        const after = await (await fetch(`${sensor.api}/bans/8984`)).json();
        assert.deepEqual(after.data.map((b: { ip: string }) => b.ip), ["198.51.100.9"]);
      } catch (error) {
        console.error(JSON.stringify(sensor.logs.slice(-20)));
        console.error(await (await fetch(`${sensor.api}/stats/8984`)).text());
        throw error;
      } finally {
        await push.close();
        await sub.close();
        await sensor.stop();
      }
    },
  });
}
