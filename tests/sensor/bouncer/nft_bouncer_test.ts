import assert from "node:assert/strict";
import { Bouncer } from "../../../src/sensor/bouncer/bouncer.ts";
import { NftSet, parseNftTarget } from "../../../src/sensor/bouncer/nft_set.ts";
import { type BanCommand, formatCommand } from "../../../src/sensor/lm/command.ts";
import { baseRecord, setClient, setTime } from "../../../src/sensor/replay/expand_requests.ts";
import { ReplaySession } from "../../../src/sensor/replay/replay_session.ts";
import { PubSocket } from "../../../src/sensor/zmtp/mod.ts";

/** Why the nftables test cannot run here, or undefined when it can. */
function unavailable(): string | undefined {
  if (Deno.build.os !== "linux") return "nftables is Linux only";
  if (Deno.uid() !== 0) return "needs root for ip netns and nft";
  for (const tool of ["ip", "nft"]) {
    try {
      const out = new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync();
      if (!out.success && tool === "nft") return "nft --version failed";
    } catch {
      return `${tool} is not installed (apt-get install ${
        tool === "ip" ? "iproute2" : "nftables"
      })`;
    }
  }
  const probe = `qts-probe-${Deno.pid}`;
  const add = new Deno.Command("ip", { args: ["netns", "add", probe], stderr: "piped" })
    .outputSync();
  if (!add.success) {
    return `ip netns add failed: ${new TextDecoder().decode(add.stderr).trim()}`;
  }
  new Deno.Command("ip", { args: ["netns", "del", probe] }).outputSync();
  return undefined;
}

const skip = unavailable();
if (skip) console.warn(`skipping nftables bouncer test: ${skip}`);

function command(method: "add" | "del", ip: string, timeout?: number): BanCommand {
  return {
    domain_id: 8984,
    comment: "fixed_bad",
    rule_name: "tsng.fixed_lists",
    method,
    ip_addr: ip,
    geo: "",
    timestamp: Date.now() / 1000,
    ...(timeout !== undefined ? { timeout } : {}),
    worker: "wrk_1",
    broadcast: false,
    hoplite: "test",
  };
}

/**
 * Waits until `done()` holds, re-checking after every batch or resync the bouncer applies, so
 * the test awaits the bouncer's own events instead of sleeping.
 */
function appliedEvents(bouncer: Bouncer) {
  let waiter: (() => void) | undefined;
  bouncer.onApplied = () => waiter?.();
  return async (what: string, done: () => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      const { promise, resolve } = Promise.withResolvers<void>();
      waiter = resolve;
      const timer = setTimeout(resolve, left);
      await promise;
      clearTimeout(timer);
    }
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    // Polls the kernel (element expiry has no event to wait for).
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "Bouncer applies add/del and timeouts to nft sets in a netns, resyncs after reconnect",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ns = `qts-bouncer-${Deno.pid}`;
    const ip = (...args: string[]) => new Deno.Command("ip", { args }).outputSync();
    assert.ok(ip("netns", "add", ns).success, "ip netns add");
    let bans: { ip: string; rule_name: string; expires_at: number }[] = [
      { ip: "192.0.2.200", rule_name: "tsng.fixed_lists", expires_at: Date.now() + 600_000 },
    ];
    const api = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () =>
        Response.json({ status: "success", data: bans.map((b) => ({ domain_id: 8984, ...b })) }),
    );
    let pub = new PubSocket();
    const endpoint = await pub.bind("tcp://127.0.0.1:0");
    const nft = new NftSet(parseNftTarget("inet/qts/bans"), {
      command: ["ip", "netns", "exec", ns, "nft"],
    });
    const bouncer = new Bouncer(nft, {
      from: endpoint,
      api: `http://127.0.0.1:${api.addr.port}`,
      batchMs: 20,
      pollMs: 50,
    });
    const applied = appliedEvents(bouncer);
    try {
      await bouncer.start();
      // First connect: the sets start as the sensor's active bans.
      await applied("the first resync", () => bouncer.stats.resyncs === 1);
      assert.deepEqual([...(await nft.members()).keys()], ["192.0.2.200"]);
      // The drop rules exist and point at both sets.
      const chain = await nft.run("", ["list", "chain", "inet", "qts", "qts_input"]);
      assert.match(chain, /ip saddr @bans drop/);
      assert.match(chain, /ip6 saddr @bans6 drop/);
      assert.match(chain, /ip6 saddr @bans6net drop/, "networks: an IPv6 client's /64");

      await until("the subscription to arrive", () => Promise.resolve(pub.subscribers >= 1));
      const send = (cmd: BanCommand) => pub.send([new TextEncoder().encode(formatCommand(cmd))]);
      send(command("add", "203.0.113.5", 3600));
      send(command("add", "2001:db8::5", 3600));
      send(command("add", "203.0.113.6", 2));
      send(command("add", "not-an-ip", 60));
      send(command("add", "2001:db8:a:b::/64", 3600));
      await applied("four adds", () => nft.stats.added === 4);
      let members = await nft.members();
      assert.ok(members.has("203.0.113.5"), "IPv4 add");
      assert.ok(members.has("2001:db8::5"), "IPv6 add goes to bans6");
      assert.ok(members.has("203.0.113.6"), "short ban present before its timeout");
      assert.ok(members.has("2001:db8:a:b::/64"), "a network ban goes to bans6net");
      assert.ok((members.get("203.0.113.5") ?? 0) > 3500, "timeout taken from the command");
      assert.equal(bouncer.stats.invalid, 1);

      send(command("del", "2001:db8:a:b::/64"));
      send(command("del", "203.0.113.5"));
      send(command("del", "198.51.100.99")); // never added: ignored, batch still applies
      await applied("three deletes", () => nft.stats.deleted === 3);
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
      bans = [{ ip: "198.51.100.77", rule_name: "tsng.lua", expires_at: Date.now() + 300_000 }];
      await pub.close();
      pub = new PubSocket();
      await pub.bind(endpoint);
      await applied("the resync after reconnect", () => bouncer.stats.resyncs === 2);
      members = await nft.members();
      assert.deepEqual([...members.keys()], ["198.51.100.77"]);
      const left = members.get("198.51.100.77") ?? 0;
      assert.ok(left > 250 && left <= 300, `remaining lifetime from expires_at, got ${left}`);
    } finally {
      await bouncer.close();
      await pub.close();
      await api.shutdown();
      ip("netns", "del", ns);
    }
  },
});

Deno.test({
  name: "Bouncer against a real sensor: resync from its GET /bans, add and manual unban reach nft",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ns = `qts-bouncer-e2e-${Deno.pid}`;
    const ip = (...args: string[]) => new Deno.Command("ip", { args }).outputSync();
    assert.ok(ip("netns", "add", ns).success, "ip netns add");
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
              rule_name: "tsng.fixed_lists",
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
    const nft = new NftSet(parseNftTarget("inet/qts/bans"), {
      command: ["ip", "netns", "exec", ns, "nft"],
    });
    let bouncer: Bouncer | undefined;
    try {
      // A ban made before the bouncer runs: only the resync can bring it.
      await session.send(8984, record("198.51.100.1"));
      assert.equal((await session.drain()).length, 1);
      bouncer = new Bouncer(nft, {
        from: session.sensor.bound.outbound,
        api: session.sensor.bound.api,
        batchMs: 20,
        pollMs: 50,
      });
      const b = bouncer;
      const applied = appliedEvents(b);
      await b.start();
      await applied("the first resync", () => b.stats.resyncs === 1);
      let members = await nft.members();
      assert.deepEqual([...members.keys()], ["198.51.100.1"]);
      const left = members.get("198.51.100.1") ?? 0;
      assert.ok(left > 590 && left <= 600, `lifetime from the sensor's expires_at, got ${left}`);

      await until(
        "the bouncer's subscription",
        () => Promise.resolve(session.sensor.publisher.subscribers >= 2),
      );
      await session.send(8984, record("198.51.100.2"));
      await session.drain();
      await applied("the add", () => nft.stats.added === 1);
      assert.ok((await nft.members()).has("198.51.100.2"));

      const response = await fetch(`${session.sensor.bound.api}/bans/8984/198.51.100.2`, {
        method: "DELETE",
      });
      assert.equal(response.status, 200, await response.text());
      await applied("the del of the manual unban", () => nft.stats.deleted === 1);
      members = await nft.members();
      assert.ok(!members.has("198.51.100.2"));
      assert.ok(members.has("198.51.100.1"));
    } finally {
      await bouncer?.close();
      await session.close();
      ip("netns", "del", ns);
    }
  },
});

Deno.test({
  name: "NftSet.apply() gives an element that is already banned the new command's timeout",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ns = `qts-refresh-${Deno.pid}`;
    const ip = (...args: string[]) => new Deno.Command("ip", { args }).outputSync();
    assert.ok(ip("netns", "add", ns).success, "ip netns add");
    try {
      const nft = new NftSet(parseNftTarget("inet/qts/bans"), {
        command: ["ip", "netns", "exec", ns, "nft"],
      });
      await nft.setup();
      assert.equal(await nft.apply([{ op: "add", ip: "203.0.113.7", timeout: 60 }]), 0);
      assert.ok((await nft.members()).get("203.0.113.7")! <= 60);
      // A longer ban for the same address (another rule, a repeat offence) must extend it.
      assert.equal(await nft.apply([{ op: "add", ip: "203.0.113.7", timeout: 7200 }]), 0);
      assert.ok((await nft.members()).get("203.0.113.7")! > 3600, "timeout refreshed");
      // Adding a new address the same way works too (nothing to refresh).
      assert.equal(await nft.apply([{ op: "add", ip: "2001:db8::7", timeout: 120 }]), 0);
      assert.ok((await nft.members()).has("2001:db8::7"));
    } finally {
      ip("netns", "del", ns);
    }
  },
});
