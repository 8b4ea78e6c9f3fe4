import assert from "node:assert/strict";
import { Bouncer } from "../../../src/sensor/bouncer/bouncer.ts";
import { NftSet, parseNftTarget } from "../../../src/sensor/bouncer/nft_set.ts";
import { serveMetrics } from "../../../src/sensor/bouncer/serve_metrics.ts";
import { baseRecord, setClient, setTime } from "../../../src/sensor/replay/expand_requests.ts";
import { ReplaySession } from "../../../src/sensor/replay/replay_session.ts";
import { PubSocket } from "../../../src/sensor/zmtp/mod.ts";
import { metricValue } from "../../_support/sensor_process.ts";
import {
  BouncerWaiter,
  command,
  fakeApi,
  netns,
  nftUnavailable,
  publish,
} from "./_bouncer_support.ts";

const skip = nftUnavailable();
if (skip) console.warn(`skipping nftables bouncer test: ${skip}`);

const FIXED = "tsng.fixed_lists";
const RATE = "tsng.location_rate";
const DAY = 86_400;

/** Polls the kernel (element expiry has no event to wait for). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "Bouncer applies add/del and timeouts to nft sets in a netns, resyncs after reconnect",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    using ns = netns("qts-bouncer");
    const api = fakeApi();
    api.bans = [
      { domain_id: 8984, ip: "192.0.2.200", rule_name: FIXED, expires_at: Date.now() + 600_000 },
    ];
    let pub = new PubSocket();
    const endpoint = await pub.bind("tcp://127.0.0.1:0");
    const nft = new NftSet(parseNftTarget("inet/qts/bans"), { command: ns.nft });
    const waiter = new BouncerWaiter();
    const bouncer = new Bouncer(nft, {
      from: endpoint,
      api: api.url,
      batchMs: 20,
      pollMs: 50,
      resyncMs: 0,
      log: waiter.log,
    });
    waiter.watch(bouncer);
    try {
      await bouncer.start();
      // Connected and resynced since: the sets start as the sensor's active bans.
      await waiter.until("the subscription", () => pub.subscribers >= 1);
      await waiter.until("the resync after connecting", () => bouncer.synced);
      assert.deepEqual([...(await nft.members()).keys()], ["192.0.2.200"]);
      // The drop rules exist and point at both sets.
      const chain = await nft.run("", ["list", "chain", "inet", "qts", "qts_input"]);
      assert.match(chain, /ip saddr @bans drop/);
      assert.match(chain, /ip6 saddr @bans6 drop/);
      assert.match(chain, /ip6 saddr @bans6net drop/, "networks: an IPv6 client's /64");

      const added = nft.stats.added;
      publish(
        pub,
        command("add", "203.0.113.5"),
        command("add", "2001:db8::5"),
        command("add", "203.0.113.6", { timeout: 2 }),
        command("add", "not-an-ip", { timeout: 60 }),
        command("add", "2001:db8:a:b::/64"),
      );
      await waiter.until("four adds", () => nft.stats.added === added + 4);
      let members = await nft.members();
      assert.ok(members.has("203.0.113.5"), "IPv4 add");
      assert.ok(members.has("2001:db8::5"), "IPv6 add goes to bans6");
      assert.ok(members.has("203.0.113.6"), "short ban present before its timeout");
      assert.ok(members.has("2001:db8:a:b::/64"), "a network ban goes to bans6net");
      assert.ok((members.get("203.0.113.5") ?? 0) > 3500, "timeout taken from the command");
      assert.equal(bouncer.stats.invalid, 1);

      const deleted = nft.stats.deleted;
      publish(
        pub,
        command("del", "2001:db8:a:b::/64"),
        command("del", "203.0.113.5"),
        command("del", "198.51.100.99"), // never added: ignored, batch still applies
      );
      await waiter.until("three deletes", () => nft.stats.deleted === deleted + 3);
      members = await nft.members();
      assert.ok(!members.has("203.0.113.5"), "del removes the element");
      assert.ok(!members.has("2001:db8:a:b::/64"), "del removes the network");
      assert.ok(members.has("2001:db8::5"));
      assert.equal(bouncer.stats.rejected, 0);

      await until("the 2 s ban to expire in the kernel", async () => {
        return !(await nft.members()).has("203.0.113.6");
      });

      // A stale element the sensor does not know, and a ban made while the bouncer was away.
      await nft.run("add element inet qts bans { 198.51.100.1 timeout 600s }\n");
      api.bans = [
        {
          domain_id: 8984,
          ip: "198.51.100.77",
          rule_name: "tsng.lua",
          expires_at: Date.now() + 3e5,
        },
      ];
      await pub.close();
      pub = new PubSocket();
      await pub.bind(endpoint);
      await waiter.until("the new subscription", () => pub.subscribers >= 1);
      await waiter.until("the resync after reconnect", () => bouncer.synced);
      members = await nft.members();
      assert.deepEqual([...members.keys()], ["198.51.100.77"]);
      const left = members.get("198.51.100.77") ?? 0;
      assert.ok(left > 250 && left <= 300, `remaining lifetime from expires_at, got ${left}`);
      // What the resyncs corrected: 192.0.2.200 and 198.51.100.77 were missing; 192.0.2.200,
      // 2001:db8::5 (banned no more) and the stale 198.51.100.1 were too many.
      assert.equal(bouncer.stats.resyncAdded, 2);
      assert.equal(bouncer.stats.resyncRemoved, 3);
      assert.equal(bouncer.stats.resyncRetimed, 0);
    } finally {
      await bouncer.close();
      await pub.close();
      await api.shutdown();
    }
  },
});

Deno.test({
  name: "Bouncer keeps an IP banned while any rule bans it: streamed, resynced, after expiry",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    using ns = netns("qts-two-rules");
    const api = fakeApi();
    const pub = new PubSocket();
    const endpoint = await pub.bind("tcp://127.0.0.1:0");
    const nft = new NftSet(parseNftTarget("inet/qts/bans"), { command: ns.nft });
    const waiter = new BouncerWaiter();
    const bouncer = new Bouncer(nft, {
      from: endpoint,
      api: api.url,
      batchMs: 20,
      pollMs: 50,
      resyncMs: 0,
      log: waiter.log,
    });
    waiter.watch(bouncer);
    // One address and one network (an IPv6 client's /64), banned alike by two rules.
    const ips = ["203.0.113.10", "2001:db8:a:b::/64"];
    const stream = async (...commands: ReturnType<typeof command>[]) => {
      const before = bouncer.stats.commands;
      publish(pub, ...commands);
      await waiter.until(
        `${commands.length} commands`,
        () => bouncer.stats.commands === before + commands.length,
        { pollMs: 5 },
      );
      await bouncer.flush();
    };
    const lifetimes = async () => {
      const members = await nft.members();
      return ips.map((ip) => members.get(ip));
    };
    const both = (...c: [method: "add" | "del", rule: string, timeout?: number][]) =>
      c.flatMap(([method, rule, timeout]) =>
        ips.map((ip) => command(method, ip, { rule, ...(timeout ? { timeout } : {}) }))
      );
    try {
      await bouncer.start();
      await waiter.until("the subscription", () => pub.subscribers >= 1);
      await waiter.until("the resync after connecting", () => bouncer.synced);

      // 1. A day-long ban of the fixed list.
      await stream(...both(["add", FIXED, DAY]));
      for (const left of await lifetimes()) assert.ok(left! > DAY - 60, `1: got ${left}`);
      // 2. A shorter ban of another rule does not shorten the element.
      await stream(...both(["add", RATE, 3600]));
      for (const left of await lifetimes()) assert.ok(left! > DAY - 60, `2: got ${left}`);
      // 3. Lifting the shorter ban leaves the IP banned for the day.
      await stream(...both(["del", RATE]));
      for (const left of await lifetimes()) assert.ok(left! > DAY - 60, `3: got ${left}`);
      // 4. A 3 s ban, then the day-long one lifted: the element shrinks to 3 s (delete + add in
      //    one transaction), it does not go.
      await stream(...both(["add", RATE, 3], ["del", FIXED]));
      const rateEnds = Date.now() + 3000;
      for (const left of await lifetimes()) {
        assert.ok(left !== undefined && left <= 3, `4: got ${left}`);
      }
      // 5. The day-long ban again.
      await stream(...both(["add", FIXED, DAY]));
      for (const left of await lifetimes()) assert.ok(left! > DAY - 60, `5: got ${left}`);
      assert.equal(bouncer.bans().length, 4, "one ban per (domain, rule, IP)");

      // A forced resync from the same bans changes nothing: streamed state = resynced state.
      api.bans = ips.flatMap((ip) => [
        { domain_id: 8984, ip, rule_name: RATE, expires_at: rateEnds },
        { domain_id: 8984, ip, rule_name: FIXED, expires_at: Date.now() + DAY * 1000 },
      ]);
      assert.equal(await bouncer.resync(), true);
      assert.deepEqual(
        [bouncer.stats.resyncAdded, bouncer.stats.resyncRemoved, bouncer.stats.resyncRetimed],
        [0, 0, 0],
      );
      for (const left of await lifetimes()) assert.ok(left! > DAY - 60, `resync: got ${left}`);

      // The 3 s ban ends: the day-long one still holds the element.
      await until("the 3 s ban to end", () => Promise.resolve(Date.now() > rateEnds + 500));
      for (const left of await lifetimes()) assert.ok(left! > DAY - 60, `expired: got ${left}`);
      assert.deepEqual(bouncer.bans().map((b) => b.ruleName), [FIXED, FIXED]);
      api.bans = api.bans.filter((b) => b.rule_name === FIXED);
      assert.equal(await bouncer.resync(), true);
      assert.deepEqual(
        [bouncer.stats.resyncAdded, bouncer.stats.resyncRemoved, bouncer.stats.resyncRetimed],
        [0, 0, 0],
      );

      // The last ban lifted: the element goes.
      await stream(...both(["del", FIXED]));
      assert.deepEqual(await lifetimes(), [undefined, undefined]);
      assert.equal(bouncer.stats.rejected, 0);
    } finally {
      await bouncer.close();
      await pub.close();
      await api.shutdown();
    }
  },
});

Deno.test({
  name: "Bouncer repairs commands lost at the PUB's high-water mark by its periodic resync",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    using ns = netns("qts-hwm");
    const api = fakeApi();
    const expires = (s: number) => Date.now() + s * 1000;
    // What the sensor holds before the bouncer starts.
    api.bans = ["192.0.2.1", "192.0.2.2", "192.0.2.3"].map((ip) => ({
      domain_id: 8984,
      ip,
      rule_name: FIXED,
      expires_at: expires(3600),
    }));
    // A PUB that queues at most 2 messages per subscriber: a burst loses the rest.
    const pub = new PubSocket({ hwm: 2 });
    const endpoint = await pub.bind("tcp://127.0.0.1:0");
    const nft = new NftSet(parseNftTarget("inet/qts/bans"), { command: ns.nft });
    const waiter = new BouncerWaiter();
    const bouncer = new Bouncer(nft, {
      from: endpoint,
      api: api.url,
      batchMs: 20,
      pollMs: 50,
      resyncMs: 300,
      log: waiter.log,
    });
    waiter.watch(bouncer);
    const server = await serveMetrics(bouncer.metrics, { hostname: "127.0.0.1", port: 0 });
    try {
      await bouncer.start();
      await waiter.until("the subscription", () => pub.subscribers >= 1);
      await waiter.until("the resync after connecting", () => bouncer.synced);
      // Missing at start: the first resync added them.
      assert.equal(bouncer.stats.resyncAdded, 3);
      assert.equal((await nft.members()).size, 3);

      // The sensor bans 3 more IPs, lifts 192.0.2.2, and moves 192.0.2.3 from a 1 h ban to a
      // 10 min one of another rule; its API says so at once, its commands go out in a burst.
      // The first two (repeats of 192.0.2.1's ban) get through, the other six are dropped.
      api.bans = [
        { domain_id: 8984, ip: "192.0.2.1", rule_name: FIXED, expires_at: expires(3600) },
        ...["198.51.100.1", "198.51.100.2", "2001:db8:c:d::/64"].map((ip) => ({
          domain_id: 8984,
          ip,
          rule_name: FIXED,
          expires_at: expires(3600),
        })),
        { domain_id: 8984, ip: "192.0.2.3", rule_name: RATE, expires_at: expires(600) },
      ];
      const sent = publish(
        pub,
        command("add", "192.0.2.1"),
        command("add", "192.0.2.1"),
        command("add", "198.51.100.1"),
        command("add", "198.51.100.2"),
        command("add", "2001:db8:c:d::/64"),
        command("del", "192.0.2.2"),
        command("del", "192.0.2.3"),
        command("add", "192.0.2.3", { rule: RATE, timeout: 600 }),
      );
      assert.equal(sent, 2);
      assert.equal(pub.stats.droppedHwm, 6);

      await waiter.until(
        "the periodic resync to repair the sets",
        () => bouncer.stats.resyncAdded === 6,
      );
      const members = await nft.members();
      assert.deepEqual(
        [...members.keys()].sort(),
        ["192.0.2.1", "192.0.2.3", "198.51.100.1", "198.51.100.2", "2001:db8:c:d::/64"],
      );
      const left = members.get("192.0.2.3")!;
      assert.ok(left > 590 && left <= 600, `retimed to the 10 min ban, got ${left}`);
      assert.equal(bouncer.stats.resyncRemoved, 1);
      assert.equal(bouncer.stats.resyncRetimed, 1);

      // The corrections are on the bouncer's /metrics.
      const url = `http://127.0.0.1:${server.addr.port}`;
      const text = await (await fetch(`${url}/metrics`)).text();
      const corrections = "qts_bouncer_resync_corrections_total";
      assert.equal(metricValue(text, `${corrections}{change="added"}`), 6);
      assert.equal(metricValue(text, `${corrections}{change="removed"}`), 1);
      assert.equal(metricValue(text, `${corrections}{change="retimed"}`), 1);
      assert.ok(metricValue(text, 'qts_bouncer_resyncs_total{result="ok"}')! >= 2);
      assert.equal(metricValue(text, "qts_bouncer_elements"), 5);
      assert.equal((await fetch(`${url}/other`)).status, 404);
    } finally {
      await bouncer.close();
      await server.shutdown();
      await pub.close();
      await api.shutdown();
    }
  },
});

Deno.test({
  name: "Bouncer against a real sensor: resync from its GET /bans, add and manual unban reach nft",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    using ns = netns("qts-bouncer-e2e");
    // Records carry wall-clock times, so the sensor's expires_at is a real wall-clock instant.
    const session = await ReplaySession.start({
      config: {
        settings: {},
        components: {},
        files: {},
        domains: new Map([[8984, {
          fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["198.51.100.0/24"] }] },
          lm: {
            use_component_projections: false,
            projections: [{
              name: "fixed",
              events: "^fixed_",
              rule_name: FIXED,
              state: "enabled",
              timeout: 600,
            }],
          },
        }]]),
      },
    });
    const record = (addr: string) => {
      const r = baseRecord();
      setClient(r, addr);
      setTime(r, Math.round(Date.now()) / 1000);
      return r;
    };
    const nft = new NftSet(parseNftTarget("inet/qts/bans"), { command: ns.nft });
    let bouncer: Bouncer | undefined;
    try {
      // A ban made before the bouncer runs: only the resync can bring it.
      await session.send(8984, record("198.51.100.1"));
      assert.equal((await session.drain()).length, 1);
      const waiter = new BouncerWaiter();
      const b = bouncer = new Bouncer(nft, {
        from: session.sensor.bound.outbound,
        api: session.sensor.bound.api,
        batchMs: 20,
        pollMs: 50,
        log: waiter.log,
      });
      waiter.watch(b);
      await b.start();
      await waiter.until(
        "the bouncer's subscription",
        () => session.sensor.publisher.subscribers >= 2,
      );
      await waiter.until("the resync after connecting", () => b.synced);
      let members = await nft.members();
      assert.deepEqual([...members.keys()], ["198.51.100.1"]);
      const left = members.get("198.51.100.1") ?? 0;
      assert.ok(left > 590 && left <= 600, `lifetime from the sensor's expires_at, got ${left}`);

      const added = nft.stats.added;
      await session.send(8984, record("198.51.100.2"));
      await session.drain();
      await waiter.until("the add", () => nft.stats.added === added + 1);
      assert.ok((await nft.members()).has("198.51.100.2"));

      const deleted = nft.stats.deleted;
      const response = await fetch(`${session.sensor.bound.api}/bans/8984/198.51.100.2`, {
        method: "DELETE",
      });
      assert.equal(response.status, 200, await response.text());
      await waiter.until("the del of the manual unban", () => nft.stats.deleted === deleted + 1);
      members = await nft.members();
      assert.ok(!members.has("198.51.100.2"));
      assert.ok(members.has("198.51.100.1"));
      // Streamed state and the sensor's agree: a resync finds nothing to correct.
      const corrected = b.stats.resyncAdded + b.stats.resyncRemoved + b.stats.resyncRetimed;
      assert.equal(await b.resync(), true);
      assert.equal(b.stats.resyncAdded + b.stats.resyncRemoved + b.stats.resyncRetimed, corrected);
    } finally {
      await bouncer?.close();
      await session.close();
    }
  },
});

Deno.test({
  name: "NftSet.apply() gives an element that is already banned the new command's timeout",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    using ns = netns("qts-refresh");
    const nft = new NftSet(parseNftTarget("inet/qts/bans"), { command: ns.nft });
    await nft.setup();
    assert.equal(await nft.apply([{ op: "add", ip: "203.0.113.7", timeout: 60 }]), 0);
    assert.ok((await nft.members()).get("203.0.113.7")! <= 60);
    // A longer ban for the same address (another rule, a repeat offence) must extend it.
    assert.equal(await nft.apply([{ op: "add", ip: "203.0.113.7", timeout: 7200 }]), 0);
    assert.ok((await nft.members()).get("203.0.113.7")! > 3600, "timeout refreshed");
    // And a shorter one shortens it (the longer ban was lifted).
    assert.equal(await nft.apply([{ op: "add", ip: "203.0.113.7", timeout: 30 }]), 0);
    assert.ok((await nft.members()).get("203.0.113.7")! <= 30, "timeout shortened");
    // Adding a new address the same way works too (nothing to refresh).
    assert.equal(await nft.apply([{ op: "add", ip: "2001:db8::7", timeout: 120 }]), 0);
    assert.ok((await nft.members()).has("2001:db8::7"));
    // Deleting networks and addresses that are not there is no rejection.
    assert.equal(await nft.apply([{ op: "del", ip: "2001:db8:e::/48" }]), 0);
    assert.equal(await nft.apply([{ op: "del", ip: "198.51.100.0/24" }]), 0);
    // A full-length network lists as a bare address; members() names it as written.
    assert.equal(await nft.apply([{ op: "add", ip: "192.0.2.9/32", timeout: 60 }]), 0);
    assert.ok((await nft.members()).has("192.0.2.9/32"));
  },
});
