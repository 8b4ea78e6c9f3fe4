import assert from "node:assert/strict";
import { ConfigError } from "../../../src/shared/config/schema.ts";
import { Metrics } from "../../../src/shared/metrics/metrics.ts";
import {
  type Upstream,
  UpstreamPool,
  type UpstreamPoolOptions,
  validatePoolOptions,
} from "../../../src/sensor/proxy/upstream_pool.ts";

/** A clock the test moves by hand. */
class ManualClock {
  constructor(public t = 1_000_000) {}
  now(): number {
    return this.t;
  }
}

function pool(
  servers: UpstreamPoolOptions["servers"],
  balance: UpstreamPoolOptions["balance"] = "round_robin",
  extra: Partial<UpstreamPoolOptions> = {},
  deps: ConstructorParameters<typeof UpstreamPool>[1] = {},
): UpstreamPool {
  return new UpstreamPool({ name: "web", balance, servers, ...extra }, deps);
}

function byAddress(p: UpstreamPool, address: string): Upstream {
  const u = p.upstreams.find((x) => x.address === address);
  assert.ok(u, address);
  return u;
}

function picks(p: UpstreamPool, n: number, ip = "192.0.2.1"): string[] {
  return Array.from({ length: n }, () => p.pick(ip)?.address ?? "none");
}

function counts(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of list) out[a] = (out[a] ?? 0) + 1;
  return out;
}

// --- configuration -------------------------------------------------------------------------

Deno.test("validatePoolOptions() fills defaults: weight 1, nginx passive, HAProxy-style checks", () => {
  const o = validatePoolOptions({
    name: "web",
    servers: ["127.0.0.1:8081", { address: "[::1]:8082", weight: 3, maxConns: 10 }],
    health: { kind: "http" },
  }, "proxy.pool.web");
  assert.deepEqual(o, {
    name: "web",
    balance: "round_robin",
    servers: [
      { address: "127.0.0.1:8081", weight: 1 },
      { address: "[::1]:8082", weight: 3, maxConns: 10 },
    ],
    health: {
      kind: "http",
      path: "/",
      intervalMs: 2000,
      timeoutMs: 1000,
      expectStatus: [200, 399],
      rise: 2,
      fall: 3,
    },
    passive: { maxFails: 1, failTimeoutMs: 10000 },
  });
});

Deno.test("validatePoolOptions() names `where` and the key of each problem", () => {
  const where = "qts.ini [proxy] pool web";
  const cases: [unknown, string][] = [
    [{ name: "web", servers: ["127.0.0.1"] }, `${where}.servers[0]: "127.0.0.1" has no port`],
    [
      { name: "web", servers: [{ address: "h:70000" }] },
      `${where}.servers[0].address: port 70000`,
    ],
    [
      { name: "web", servers: ["a:1", "[fe80::zz]:80"] },
      `${where}.servers[1]: "fe80::zz" in "[fe80::zz]:80" is not an IPv6 address`,
    ],
    [
      { name: "web", servers: ["A.example:80", { address: "a.example:80" }] },
      `${where}.servers[1].address: "a.example:80" repeats servers[0]`,
    ],
    [{ name: "web", servers: [] }, `${where}.servers: needs at least 1 item(s)`],
    [{ name: "web" }, `${where}: missing required field "servers"`],
    [{ name: "web", servers: ["a:1"], balance: "random" }, `${where}.balance: "random" is not`],
    [{ name: "web", servers: [{ address: "a:1", weight: 0 }] }, `${where}.servers[0].weight: 0`],
    [{ name: "web", servers: ["a:1"], sticky: true }, `${where}: unknown field "sticky"`],
    [
      { name: "web", servers: ["a:1"], health: { kind: "tcp", path: "/x" } },
      `${where}.health.path: applies to kind "http" only`,
    ],
    [
      { name: "web", servers: ["a:1"], health: { kind: "http", expectStatus: [399, 200] } },
      `${where}.health.expectStatus: [399, 200] is not a range`,
    ],
    [
      { name: "web", servers: ["a:1"], health: { kind: "http", path: "/a b" } },
      `${where}.health.path: "/a b" is not a path like /health`,
    ],
    [
      { name: "web", servers: ["a:1"], passive: { maxFails: -1 } },
      `${where}.passive.maxFails: -1 is below the minimum 0`,
    ],
    [{ name: "w b", servers: ["a:1"] }, `${where}.name: "w b" is not 1-64 letters`],
  ];
  for (const [raw, message] of cases) {
    assert.throws(
      () => validatePoolOptions(raw, where),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(message),
      `${JSON.stringify(raw)} should fail with ${message}`,
    );
  }
});

Deno.test("new UpstreamPool() rejects bad options and splits v6 addresses for Deno.connect", () => {
  assert.throws(() => pool([{ address: "nohost" }]), /upstream pool "web".servers\[0\].address/);
  const p = pool([{ address: "[2001:db8::1]:8443" }, { address: "backend.internal:80" }]);
  const [v6, name] = p.upstreams;
  assert.deepEqual([v6!.hostname, v6!.port, v6!.address], [
    "2001:db8::1",
    8443,
    "[2001:db8::1]:8443",
  ]);
  assert.deepEqual([name!.hostname, name!.port], ["backend.internal", 80]);
});

// --- round robin ---------------------------------------------------------------------------

Deno.test("pick() round_robin is nginx's smooth weighted round robin: 5,1,1 → a a b a c a a", () => {
  const p = pool([
    { address: "a:1", weight: 5 },
    { address: "b:1", weight: 1 },
    { address: "c:1", weight: 1 },
  ]);
  const seq = picks(p, 7 * 1000);
  assert.deepEqual(seq.slice(0, 7), ["a:1", "a:1", "b:1", "a:1", "c:1", "a:1", "a:1"]);
  // Every cycle of (sum of weights) picks holds each upstream exactly `weight` times.
  for (let i = 0; i < seq.length; i += 7) {
    assert.deepEqual(counts(seq.slice(i, i + 7)), { "a:1": 5, "b:1": 1, "c:1": 1 }, `cycle ${i}`);
  }
  assert.deepEqual(counts(seq), { "a:1": 5000, "b:1": 1000, "c:1": 1000 });
});

Deno.test("pick() round_robin distributes exactly by weight over many picks (weights 7,3,2,1)", () => {
  const weights = [7, 3, 2, 1];
  const p = pool(weights.map((weight, i) => ({ address: `10.0.0.${i + 1}:80`, weight })));
  const total = weights.reduce((a, b) => a + b);
  const seq = picks(p, total * 997);
  const got = counts(seq);
  weights.forEach((w, i) => assert.equal(got[`10.0.0.${i + 1}:80`], w * 997));
  // Smooth: the heaviest never runs more than ceil(7/(3+2+1))+1 times in a row.
  let run = 0;
  let longest = 0;
  for (const a of seq) {
    run = a === "10.0.0.1:80" ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  assert.ok(longest <= 3, `longest run ${longest}`);
});

Deno.test("pick() skips upstreams in `exclude` (retries) and counts `tried` when none is left", () => {
  const metrics = new Metrics();
  const p = pool([{ address: "a:1" }, { address: "b:1" }], "round_robin", {}, { metrics });
  const a = byAddress(p, "a:1");
  const b = byAddress(p, "b:1");
  for (let i = 0; i < 5; i++) assert.equal(p.pick("192.0.2.1", new Set([a])), b);
  assert.equal(p.pick("192.0.2.1", new Set([a, b])), undefined);
  assert.equal(
    metrics.get("qts_proxy_pool_no_upstream_total", { pool: "web", reason: "tried" }),
    1,
  );
  assert.equal(metrics.get("qts_proxy_upstream_picks_total", { pool: "web", upstream: "b:1" }), 5);
});

// --- maxConns and accounting ----------------------------------------------------------------

Deno.test("pick() never returns an upstream at maxConns; all full → undefined, counted `full`", () => {
  const metrics = new Metrics();
  const p = pool(
    [{ address: "a:1", maxConns: 2 }, { address: "b:1", maxConns: 1 }],
    "round_robin",
    {},
    { metrics },
  );
  const held: Upstream[] = [];
  for (let i = 0; i < 3; i++) {
    const u = p.pick("192.0.2.1");
    assert.ok(u);
    p.acquire(u);
    held.push(u);
  }
  assert.deepEqual(counts(held.map((u) => u.address)), { "a:1": 2, "b:1": 1 });
  assert.equal(p.pick("192.0.2.1"), undefined);
  assert.equal(p.pick("192.0.2.1"), undefined);
  assert.equal(metrics.get("qts_proxy_pool_no_upstream_total", { pool: "web", reason: "full" }), 2);
  p.release(byAddress(p, "b:1")); // b frees its one
  assert.equal(p.pick("192.0.2.1")?.address, "b:1");
  assert.equal(p.pick("192.0.2.1")?.address, "b:1", "a is still full");
  const text = metrics.render();
  assert.ok(text.includes('qts_proxy_upstream_active{pool="web",upstream="a:1"} 2'), text);
  assert.ok(text.includes('qts_proxy_pool_active{pool="web"} 2'), text);
  assert.ok(text.includes('qts_proxy_pool_upstreams_healthy{pool="web"} 2'), text);
});

Deno.test("release() without acquire() keeps the count at 0 and is counted; foreign upstreams throw", () => {
  const metrics = new Metrics();
  const p = pool([{ address: "a:1" }], "round_robin", {}, { metrics });
  const other = pool([{ address: "a:1" }]);
  const a = p.upstreams[0]!;
  p.release(a);
  assert.equal(a.active, 0);
  assert.equal(metrics.get("qts_proxy_pool_accounting_errors_total", { pool: "web" }), 1);
  assert.throws(() => p.acquire(other.upstreams[0]!), TypeError);
  assert.throws(
    () => p.acquire({ address: "a:1", hostname: "a", port: 1, active: 0 }),
    /not in pool "web"/,
  );
});

// --- least connections ---------------------------------------------------------------------

Deno.test("pick() least_conn takes the fewest active per unit of weight", () => {
  const p = pool([{ address: "a:1" }, { address: "b:1", weight: 3 }], "least_conn");
  const a = byAddress(p, "a:1");
  const b = byAddress(p, "b:1");
  p.acquire(a);
  p.acquire(b);
  p.acquire(b);
  // a: 1/1, b: 2/3 → b
  assert.equal(p.pick("192.0.2.1"), b);
  p.acquire(b); // b: 3/3 = a: 1/1 → tie, broken by weighted round robin
  const tie = counts(picks(p, 4 * 100));
  assert.deepEqual(tie, { "a:1": 100, "b:1": 300 });
  p.release(b);
  p.release(b);
  p.release(b);
  assert.equal(b.active, 0);
  assert.equal(p.pick("192.0.2.1"), b); // 0/3 < 1/1
});

Deno.test("pick() least_conn keeps connections level under random open/close", () => {
  const p = pool(
    [{ address: "a:1", weight: 1 }, { address: "b:1", weight: 2 }, { address: "c:1", weight: 1 }],
    "least_conn",
  );
  const open: Upstream[] = [];
  let state = 42;
  const rand = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let step = 0; step < 5000; step++) {
    if (open.length > 0 && rand() < 0.45) {
      const [u] = open.splice(Math.floor(rand() * open.length), 1);
      p.release(u!);
      continue;
    }
    const ratios = p.upstreams.map((u) => u.active / (u.address === "b:1" ? 2 : 1));
    const u = p.pick("192.0.2.1");
    assert.ok(u);
    const mine = u.active / (u.address === "b:1" ? 2 : 1);
    assert.equal(mine, Math.min(...ratios), `step ${step}: ${u.address} at ${mine} of ${ratios}`);
    p.acquire(u);
    open.push(u);
  }
});

// --- consistent hashing --------------------------------------------------------------------

function clientIps(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
}

function mapping(p: UpstreamPool, ips: string[]): string[] {
  return ips.map((ip) => p.pick(ip)?.address ?? "none");
}

Deno.test("pick() hash_ip is sticky and spreads clients by weight", () => {
  const p = pool(
    [{ address: "a:1" }, { address: "b:1" }, { address: "c:1" }, { address: "d:1", weight: 3 }],
    "hash_ip",
  );
  const ips = clientIps(20_000);
  const first = mapping(p, ips);
  assert.deepEqual(mapping(p, ips), first, "the same client always gets the same upstream");
  const share = counts(first);
  for (const a of ["a:1", "b:1", "c:1"]) {
    const s = share[a]! / ips.length;
    assert.ok(s > 0.13 && s < 0.203, `${a}: ${s} (expected ≈ 1/6)`);
  }
  const d = share["d:1"]! / ips.length;
  assert.ok(d > 0.4 && d < 0.6, `d: ${d} (expected ≈ 3/6)`);
});

Deno.test("pick() hash_ip: removing one upstream moves only its own clients (≈1/N)", () => {
  const servers = ["a:1", "b:1", "c:1", "d:1", "e:1"].map((address) => ({ address }));
  const clock = new ManualClock();
  const full = pool(servers, "hash_ip", {}, { clock });
  const ips = clientIps(20_000);
  const before = mapping(full, ips);

  // Removed from the configuration: a new pool without c.
  const without = pool(servers.filter((s) => s.address !== "c:1"), "hash_ip");
  const after = mapping(without, ips);
  let moved = 0;
  ips.forEach((_, i) => {
    if (before[i] === "c:1") {
      assert.notEqual(after[i], "c:1");
      moved++;
    } else assert.equal(after[i], before[i], `client ${ips[i]} of ${before[i]} moved`);
  });
  const fraction = moved / ips.length;
  assert.ok(fraction > 0.14 && fraction < 0.26, `moved ${fraction} (expected ≈ 1/5)`);

  // Taken out at run time (passive ejection): the same clients move, to the same places.
  full.reportFailure(byAddress(full, "c:1"));
  assert.deepEqual(mapping(full, ips), after);

  // After its window c gets one trial (its first client); a success brings every client back.
  clock.t += 10_001;
  full.reportSuccess(byAddress(full, "c:1")); // not picked since the failure: forgives nothing
  const firstOfC = ips[before.indexOf("c:1")]!;
  assert.equal(full.pick(firstOfC)?.address, "c:1");
  assert.deepEqual(mapping(full, ips), after, "one trial at a time");
  full.reportSuccess(byAddress(full, "c:1"));
  assert.deepEqual(mapping(full, ips), before);
});

Deno.test("pick() hash_ip: an added upstream takes clients only for itself", () => {
  const servers = ["a:1", "b:1", "c:1", "d:1"].map((address) => ({ address }));
  const ips = clientIps(20_000);
  const before = mapping(pool(servers, "hash_ip"), ips);
  const after = mapping(pool([...servers, { address: "e:1" }], "hash_ip"), ips);
  let moved = 0;
  ips.forEach((_, i) => {
    if (after[i] !== before[i]) {
      assert.equal(after[i], "e:1");
      moved++;
    }
  });
  const fraction = moved / ips.length;
  assert.ok(fraction > 0.14 && fraction < 0.26, `moved ${fraction} (expected ≈ 1/5)`);
});

Deno.test("pick() hash_ip hashes IPv6 clients by their /64 and IPv4-mapped ones as IPv4", () => {
  const p = pool(
    Array.from({ length: 8 }, (_, i) => ({ address: `10.0.0.${i + 1}:80` })),
    "hash_ip",
  );
  const owner = p.pick("2001:db8:1:2::1")?.address;
  for (const ip of ["2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:DB8:1:2:0:0:0:abcd"]) {
    assert.equal(p.pick(ip)?.address, owner, ip);
  }
  assert.equal(p.pick("::ffff:198.51.100.7")?.address, p.pick("198.51.100.7")?.address);
  // Different /64s do spread.
  const seen = new Set(
    Array.from({ length: 200 }, (_, i) => p.pick(`2001:db8:${i.toString(16)}::1`)?.address),
  );
  assert.ok(seen.size >= 6, `${seen.size} upstreams for 200 networks`);
});

Deno.test("pick() hash_ip with a full or excluded owner falls to the next one on the ring", () => {
  const p = pool(
    [{ address: "a:1", maxConns: 1 }, { address: "b:1", maxConns: 1 }, { address: "c:1" }],
    "hash_ip",
  );
  const ip = clientIps(50).find((x) => p.pick(x)?.address === "a:1")!;
  const second = p.pick(ip, new Set([byAddress(p, "a:1")]));
  assert.ok(second && second.address !== "a:1");
  p.acquire(byAddress(p, "a:1"));
  assert.equal(p.pick(ip), second, "full owner: the same second choice as a retry");
  p.release(byAddress(p, "a:1"));
  assert.equal(p.pick(ip)?.address, "a:1");
});

// --- passive ejection ----------------------------------------------------------------------

Deno.test("reportFailure(): maxFails within failTimeoutMs ejects for failTimeoutMs, then one trial", () => {
  const clock = new ManualClock(0);
  const metrics = new Metrics();
  const p = pool(
    [{ address: "a:1" }, { address: "b:1" }],
    "round_robin",
    { passive: { maxFails: 2, failTimeoutMs: 10_000 } },
    { clock, metrics },
  );
  const a = byAddress(p, "a:1");
  p.reportFailure(a);
  clock.t = 5_000;
  assert.equal(p.snapshot().upstreams[0]!.ejected, false, "one failure of two");
  p.reportFailure(a);
  assert.equal(p.snapshot().upstreams[0]!.ejected, true);
  assert.equal(
    metrics.get("qts_proxy_upstream_ejections_total", { pool: "web", upstream: "a:1" }),
    1,
  );
  p.reportFailure(a); // an in-flight request failing later is not a second ejection
  assert.equal(
    metrics.get("qts_proxy_upstream_ejections_total", { pool: "web", upstream: "a:1" }),
    1,
  );
  assert.equal(
    metrics.get("qts_proxy_upstream_failures_total", { pool: "web", upstream: "a:1" }),
    3,
  );

  for (const t of [5_000, 9_000, 15_000]) {
    clock.t = t;
    assert.deepEqual(new Set(picks(p, 10)), new Set(["b:1"]), `at ${t}`);
  }
  // The window has passed: a gets one trial pick, then waits for its outcome.
  clock.t = 15_001;
  const trial = picks(p, 10);
  assert.equal(trial.filter((x) => x === "a:1").length, 1, trial.join(" "));
  // The trial fails: out for another window at once.
  p.reportFailure(a);
  assert.equal(
    metrics.get("qts_proxy_upstream_ejections_total", { pool: "web", upstream: "a:1" }),
    2,
  );
  clock.t = 25_001;
  assert.deepEqual(new Set(picks(p, 10)), new Set(["b:1"]));
  // Next window: the trial succeeds and a is back for good.
  clock.t = 25_002;
  assert.equal(picks(p, 10).filter((x) => x === "a:1").length, 1);
  p.reportSuccess(a);
  assert.equal(p.snapshot().upstreams[0]!.fails, 0);
  assert.deepEqual(counts(picks(p, 10)), { "a:1": 5, "b:1": 5 });
});

Deno.test("reportSuccess() forgives failures only after a quiet window (nginx fails/checked)", () => {
  const clock = new ManualClock(0);
  const p = pool([{ address: "a:1" }, { address: "b:1" }], "round_robin", {
    passive: { maxFails: 2, failTimeoutMs: 10_000 },
  }, { clock });
  const a = byAddress(p, "a:1");
  // A success soon after a failure does not forgive it: two failures 9 s apart eject.
  p.reportFailure(a);
  clock.t = 1_000;
  p.pick("192.0.2.1");
  p.reportSuccess(a);
  clock.t = 9_000;
  p.reportFailure(a);
  assert.equal(p.snapshot().upstreams[0]!.ejected, true);

  // Failures further apart than the window, with a success after a pick in between, do not.
  const q = pool([{ address: "a:1" }, { address: "b:1" }], "round_robin", {
    passive: { maxFails: 2, failTimeoutMs: 10_000 },
  }, { clock });
  const qa = byAddress(q, "a:1");
  clock.t = 100_000;
  q.reportFailure(qa);
  clock.t = 111_000;
  picks(q, 2); // a is picked after the window
  q.reportSuccess(qa);
  assert.equal(q.snapshot().upstreams[0]!.fails, 0);
  q.reportFailure(qa);
  assert.equal(q.snapshot().upstreams[0]!.ejected, false);
});

Deno.test("pick() ignores passive ejection when it would empty the pool (counted)", () => {
  const clock = new ManualClock(0);
  const metrics = new Metrics();
  const p = pool([{ address: "a:1" }, { address: "b:1" }], "least_conn", {}, { clock, metrics });
  p.reportFailure(byAddress(p, "a:1"));
  p.reportFailure(byAddress(p, "b:1"));
  assert.deepEqual(p.snapshot().upstreams.map((u) => u.healthy), [false, false]);
  // Both failures dropped the effective weights to 0, so the first picks lean to a; all succeed.
  assert.deepEqual(new Set(picks(p, 4)), new Set(["a:1", "b:1"]));
  assert.equal(metrics.get("qts_proxy_pool_ejections_ignored_total", { pool: "web" }), 4);
  assert.equal(metrics.get("qts_proxy_pool_no_upstream_total", { pool: "web", reason: "down" }), 0);
  assert.ok(metrics.render().includes('qts_proxy_pool_upstreams_healthy{pool="web"} 0'));
});

Deno.test("reportFailure() with maxFails 0 never ejects but still counts", () => {
  const metrics = new Metrics();
  const p = pool([{ address: "a:1" }, { address: "b:1" }], "round_robin", {
    passive: { maxFails: 0, failTimeoutMs: 10_000 },
  }, { metrics });
  for (let i = 0; i < 10; i++) p.reportFailure(byAddress(p, "a:1"));
  assert.deepEqual(counts(picks(p, 4)), { "a:1": 2, "b:1": 2 });
  assert.equal(
    metrics.get("qts_proxy_upstream_failures_total", { pool: "web", upstream: "a:1" }),
    10,
  );
  assert.equal(p.snapshot().upstreams[0]!.fails, 0);
});

Deno.test("reportFailure() lowers round-robin weight by weight/maxFails, regained per pick", () => {
  const servers = [{ address: "a:1", weight: 10 }, { address: "b:1", weight: 10 }];
  const passive = { maxFails: 4, failTimeoutMs: 10_000 };
  const steady = pool(servers, "round_robin", { passive });
  const hurt = pool(servers, "round_robin", { passive });
  for (let i = 0; i < 3; i++) hurt.reportFailure(byAddress(hurt, "a:1")); // 10 → 10 - 3×2 = 4
  const steadyA = picks(steady, 20).filter((x) => x === "a:1").length;
  const hurtA = picks(hurt, 20).filter((x) => x === "a:1").length;
  assert.equal(steadyA, 10);
  assert.ok(hurtA < steadyA, `a got ${hurtA} of 20 right after three failures`);
  // Recovered: the next rounds are even again.
  assert.deepEqual(counts(picks(hurt, 200)), { "a:1": 100, "b:1": 100 });
});

Deno.test("snapshot() reports each upstream's state", () => {
  const clock = new ManualClock(0);
  const p = pool(
    [{ address: "a:1", weight: 2, maxConns: 5 }, { address: "b:1" }],
    "least_conn",
    {},
    {
      clock,
    },
  );
  p.acquire(byAddress(p, "a:1"));
  p.reportFailure(byAddress(p, "b:1"));
  assert.deepEqual(p.snapshot(), {
    name: "web",
    balance: "least_conn",
    upstreams: [
      {
        address: "a:1",
        healthy: true,
        active: 1,
        fails: 0,
        weight: 2,
        ejected: false,
        check: "off",
        lastCheck: null,
        maxConns: 5,
      },
      {
        address: "b:1",
        healthy: false,
        active: 0,
        fails: 1,
        weight: 1,
        ejected: true,
        check: "off",
        lastCheck: null,
        maxConns: null,
      },
    ],
  });
});

Deno.test("pick() hash_ip does not depend on the order servers are listed in", () => {
  const servers = ["a:1", "b:1", "c:1", "d:1"].map((address, i) => ({ address, weight: i + 1 }));
  const ips = clientIps(5_000);
  assert.deepEqual(
    mapping(pool([...servers].reverse(), "hash_ip"), ips),
    mapping(pool(servers, "hash_ip"), ips),
  );
});
