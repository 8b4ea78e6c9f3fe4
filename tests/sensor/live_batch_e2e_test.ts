/**
 * `qts serve` with workers = 0 runs what its ZeroMQ input has already queued as one chain batch
 * and decides it as soon as that backlog is through: a lone record is decided without any more
 * input, and a burst reaches the chain in batches (`qts_chain_batches_total` against
 * `qts_chain_batch_records_total` in /metrics). Real sockets on loopback, the sensor in process.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseIPv4 } from "../../src/shared/net/ip.ts";
import { emptyRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { Sensor } from "../../src/sensor/sensor.ts";
import { loadSettings } from "../../src/shared/config/settings.ts";
import { createLogger } from "../../src/shared/log/logger.ts";
import { PushSocket, SubSocket } from "../../src/sensor/zmtp/mod.ts";
import { freePort, metricValue, outboundSubscribed } from "../_support/sensor_process.ts";

const DOMAIN = 8984;
const decoder = new TextDecoder();

function message(ip: string, url = "/"): Uint8Array[] {
  const record = {
    ...emptyRecord(),
    timestamp: 1_700_000_000,
    msec: "1700000000.000",
    remote_ip: parseIPv4(ip)!,
    method: "GET",
    url,
    host: "example.com",
    http_user_agent: "Mozilla/5.0",
  };
  return [encodeHeader(DOMAIN), encodeRecord(record)];
}

/** Every request from 198.51.100.0/24 (Lua on, as by default) bans its source at once. */
const domainConfig = {
  fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["198.51.100.0/24"] }] },
  limit_req_mc: { enabled: false },
  lm: {
    use_component_projections: false,
    projections: [{
      name: "bad",
      events: "^fixed_bad$",
      rule_name: "tsng.fixed",
      state: "enabled",
      timeout: 86400,
    }],
  },
};

/** Resolves the next command on `sub`; rejects after `ms` (a guard, not a timing check). */
async function nextCommand(sub: SubSocket, ms = 20_000): Promise<Record<string, unknown>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no command within ${ms} ms`)), ms);
  });
  try {
    const frames = await Promise.race([sub.receive(), timeout]);
    assert.ok(frames, "the SUB socket closed");
    return JSON.parse(decoder.decode(frames[0]));
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "Sensor ingest (workers 0): a lone record is decided at once, a burst in batches",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-live-batch-" });
    await Deno.mkdir(join(dir, "filters"));
    await Deno.writeTextFile(join(dir, "filters", `${DOMAIN}.json`), JSON.stringify(domainConfig));
    const [input, outbound, api] = [freePort(), freePort(), freePort()];
    const settings = loadSettings(
      `[tsng]\ninput = tcp://127.0.0.1:${input}\napi_server_port = ${api}\n` +
        `filters_config_dir = ${join(dir, "filters")}\n` +
        `components_config_dir = ${join(dir, "components")}\nstate_dir = ${join(dir, "state")}\n` +
        `autodiscover = false\nworkers = 0\nhostname = batch-host\n` +
        `[tsng:qpc]\noutbound = tcp://127.0.0.1:${outbound}\n`,
      "live batch test",
    );
    const sensor = new Sensor({ settings, log: createLogger({ write: () => {} }) });
    const push = new PushSocket();
    const sub = new SubSocket({ hwm: 100_000 });
    try {
      await sensor.start();
      sub.subscribe("");
      sub.connect(sensor.bound.outbound);
      await outboundSubscribed(sensor.bound.api);
      push.connect(sensor.bound.input);
      const metrics = async (series: string) =>
        metricValue(await (await fetch(`${sensor.bound.api}/metrics`)).text(), series) ?? 0;

      // One record, then nothing: its ban must come without any further traffic.
      await push.send(message("198.51.100.1"));
      const lone = await nextCommand(sub);
      assert.equal(lone.ip_addr, "198.51.100.1");
      assert.equal(lone.method, "add");
      assert.equal(lone.comment, "fixed_bad");
      assert.equal(await metrics("qts_chain_batch_records_total"), 1);
      assert.equal(await metrics("qts_chain_batches_total"), 1);

      // A burst: 2,000 records of 200 sources (each banned once), sent without waiting.
      const burst: Promise<void>[] = [];
      for (let i = 0; i < 2_000; i++) {
        burst.push(push.send(message(`198.51.100.${10 + (i % 200)}`, `/p${i}`)));
      }
      await Promise.all(burst);
      const banned = new Set<unknown>();
      while (banned.size < 200) banned.add((await nextCommand(sub)).ip_addr);
      await sensor.runner.settled();
      const records = await metrics("qts_chain_batch_records_total");
      const batches = await metrics("qts_chain_batches_total");
      assert.equal(records, 2_001);
      assert.ok(
        records - 1 > 2 * (batches - 1),
        `the burst's 2,000 records took ${batches - 1} chain runs`,
      );
      assert.equal(await metrics(`qts_records_total{domain="${DOMAIN}"}`), 2_001);
      assert.equal(sensor.lm.bans(DOMAIN).length, 201);
    } finally {
      await push.close();
      await sub.close();
      await sensor.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
