import assert from "node:assert/strict";
import { Bouncer } from "../../../src/sensor/bouncer/bouncer.ts";
import { CommandPublisher } from "../../../src/sensor/outbound/command_publisher.ts";
import { PubSocket, SubSocket } from "../../../src/sensor/zmtp/mod.ts";
import { Metrics } from "../../../src/shared/metrics/metrics.ts";
import { freePort, metricValue } from "../../_support/sensor_process.ts";
import { BouncerWaiter, command, fakeApi, MemoryNft, publish } from "./_bouncer_support.ts";

Deno.test({
  name: "Bouncer retries a failed resync with backoff until the sensor's API answers",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The sensor's PUB is up, its API not yet: the resync at connect fails.
    const apiPort = freePort();
    const pub = new PubSocket();
    const endpoint = await pub.bind("tcp://127.0.0.1:0");
    const nft = new MemoryNft();
    const waiter = new BouncerWaiter();
    const bouncer = new Bouncer(nft, {
      from: endpoint,
      api: `http://127.0.0.1:${apiPort}`,
      batchMs: 10,
      pollMs: 20,
      resyncMs: 0,
      retryMs: 20,
      retryMaxMs: 80,
      log: waiter.log,
    });
    waiter.watch(bouncer);
    let api: ReturnType<typeof fakeApi> | undefined;
    try {
      await bouncer.start();
      await waiter.until("four failed resyncs", () => bouncer.stats.resyncFailures >= 4);
      const delays = waiter.logs
        .filter((l) => l.msg.startsWith("resync failed"))
        .map((l) => l.fields.retry_in_ms);
      assert.deepEqual(delays.slice(0, 4), [20, 40, 80, 80], "doubling up to retryMaxMs");
      assert.equal(bouncer.synced, false);
      // Commands still apply while the resync is failing.
      await waiter.until("the subscription", () => pub.subscribers >= 1);
      publish(pub, command("add", "203.0.113.9"));
      await waiter.until("the add", () => nft.stats.added === 1);
      const failed = bouncer.metrics.render();
      assert.ok(metricValue(failed, 'qts_bouncer_resyncs_total{result="failed"}')! >= 4);
      assert.equal(metricValue(failed, "qts_bouncer_synced"), 0);

      // The API comes up: the next retry syncs, and drops the ban the sensor no longer has.
      api = fakeApi(apiPort);
      api.bans = [
        { domain_id: 8984, ip: "192.0.2.50", rule_name: "tsng.lua", expires_at: Date.now() + 6e5 },
      ];
      await waiter.until("a resync that succeeds", () => bouncer.synced);
      assert.deepEqual([...(await nft.members()).keys()], ["192.0.2.50"]);
      assert.deepEqual(
        [bouncer.stats.resyncAdded, bouncer.stats.resyncRemoved, bouncer.stats.resyncRetimed],
        [1, 1, 0],
      );
      const synced = bouncer.metrics.render();
      assert.equal(metricValue(synced, "qts_bouncer_synced"), 1);
      assert.equal(metricValue(synced, 'qts_bouncer_resync_corrections_total{change="added"}'), 1);
    } finally {
      await bouncer.close();
      await pub.close();
      await api?.shutdown();
    }
  },
});

Deno.test({
  name: "Bouncer resyncs at start, before the sensor's PUB is reachable, once the API answers",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const api = fakeApi();
    api.bans = [
      { domain_id: 1, ip: "2001:db8:a:b::/64", rule_name: "r", expires_at: Date.now() + 6e5 },
    ];
    const nft = new MemoryNft();
    const waiter = new BouncerWaiter();
    // Nothing listens on the PUB endpoint: no handshake will ever come.
    const bouncer = new Bouncer(nft, {
      from: `tcp://127.0.0.1:${freePort()}`,
      api: api.url,
      resyncMs: 0,
      log: waiter.log,
    });
    waiter.watch(bouncer);
    try {
      await bouncer.start();
      await waiter.until("the resync at start", () => bouncer.stats.resyncs === 1);
      assert.deepEqual([...(await nft.members()).keys()], ["2001:db8:a:b::/64"]);
    } finally {
      await bouncer.close();
      await api.shutdown();
    }
  },
});

Deno.test({
  name: "CommandPublisher counts what a subscriber missed at its high-water mark in /metrics",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const metrics = new Metrics();
    const publisher = new CommandPublisher(metrics);
    const sub = new SubSocket();
    try {
      sub.subscribe("");
      sub.connect(await publisher.bind("tcp://127.0.0.1:0"));
      const waiter = new BouncerWaiter();
      await waiter.until("the subscription", () => publisher.subscribers >= 1, { pollMs: 5 });
      assert.equal(metricValue(metrics.render(), "qts_outbound_dropped_total"), 0);
      // One burst past the high-water mark (100 000 queued per subscriber).
      for (let i = 0; i < 100_003; i++) publisher.publish(command("add", "192.0.2.1"));
      assert.equal(metricValue(metrics.render(), "qts_outbound_dropped_total"), 3);
    } finally {
      await sub.close();
      await publisher.close();
    }
  },
});
