import assert from "node:assert/strict";
import { Metrics } from "../../../src/shared/metrics/metrics.ts";
import {
  type HealthCheckEvent,
  type HealthCheckOptions,
  UpstreamPool,
} from "../../../src/sensor/proxy/upstream_pool.ts";

// Short intervals so state changes take tens of milliseconds; tests wait on check events, and
// a generous guard only turns a hang into a clear failure.
const FAST = { intervalMs: 20, timeoutMs: 2_000, rise: 2, fall: 2 };
const GUARD_MS = 10_000;

/** Health-check events of a pool, awaited by predicate. */
class Checks {
  readonly events: HealthCheckEvent[] = [];
  #waiters: { match: (e: HealthCheckEvent) => boolean; resolve: () => void }[] = [];

  readonly onHealthCheck = (e: HealthCheckEvent): void => {
    this.events.push(e);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(e)) return true;
      w.resolve();
      return false;
    });
  };

  /** Resolves at the next event (from now on) that matches. */
  async next(what: string, match: (e: HealthCheckEvent) => boolean): Promise<void> {
    let guard: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => this.#waiters.push({ match, resolve })),
        new Promise<never>((_, reject) => {
          guard = setTimeout(() => reject(new Error(`no health check event: ${what}`)), GUARD_MS);
        }),
      ]);
    } finally {
      clearTimeout(guard);
    }
  }

  /** Resolves when `address` is (or becomes) `healthy` per its checks, after at least one. */
  async until(address: string, healthy: boolean): Promise<void> {
    await this.next(
      `${address} ${healthy ? "up" : "down"}`,
      (e) => e.upstream.address === address && e.healthy === healthy,
    );
  }
}

/** A Deno HTTP server on 127.0.0.1 answering `/health` with `status.value`. */
function httpUpstream(
  port = 0,
): { server: Deno.HttpServer<Deno.NetAddr>; status: { value: number } } {
  const status = { value: 200 };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/health"
        ? new Response("ok", { status: status.value })
        : new Response("no", { status: 404 }),
  );
  return { server, status };
}

function healthPool(
  addresses: string[],
  health: HealthCheckOptions,
  checks: Checks,
  metrics = new Metrics(),
): UpstreamPool {
  return new UpstreamPool(
    {
      name: "web",
      balance: "round_robin",
      servers: addresses.map((address) => ({ address })),
      health,
    },
    { metrics, onHealthCheck: checks.onHealthCheck },
  );
}

function pickSet(pool: UpstreamPool, n = 10): Set<string> {
  return new Set(Array.from({ length: n }, () => pool.pick("192.0.2.1")?.address ?? "none"));
}

function checksCounted(metrics: Metrics, upstream: string, result: string): number {
  return metrics.get("qts_proxy_upstream_health_checks_total", { pool: "web", upstream, result });
}

/** Two HTTP upstreams checked on `GET /health` by one pool, with its events and metrics. */
function twoHttpUpstreams() {
  const a = httpUpstream();
  const b = httpUpstream();
  const addrA = `127.0.0.1:${a.server.addr.port}`;
  const addrB = `127.0.0.1:${b.server.addr.port}`;
  const checks = new Checks();
  const metrics = new Metrics();
  const health = { kind: "http", path: "/health", ...FAST } as const;
  const pool = healthPool([addrA, addrB], health, checks, metrics);
  return { a, b, addrA, addrB, checks, metrics, pool };
}

/** A TCP listener that accepts and never reads or answers; `close()` ends it and its conns. */
function silentListener(): { address: string; accepted: Promise<void>; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  let accepted!: () => void;
  const first = new Promise<void>((resolve) => accepted = resolve);
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        held.push(conn);
        accepted();
      }
    } catch { /* listener closed */ }
  })();
  return {
    address: `127.0.0.1:${listener.addr.port}`,
    accepted: first,
    async close() {
      listener.close();
      await accepting;
      for (const conn of held) conn.close();
    },
  };
}

Deno.test("health http: a failing status takes an upstream down after `fall`, back after `rise`", async () => {
  const { a, b, addrA, addrB, checks, metrics, pool } = twoHttpUpstreams();
  try {
    pool.start();
    pool.start(); // idempotent: still one check loop per upstream
    await checks.next("b checked", (e) => e.upstream.address === addrB && e.outcome === "ok");
    assert.deepEqual(pickSet(pool), new Set([addrA, addrB]));

    b.status.value = 503;
    await checks.until(addrB, false);
    const downRun = checks.events.filter((e) => e.upstream.address === addrB).slice(-2);
    assert.deepEqual(downRun.map((e) => e.outcome), ["status", "status"], "fall = 2 failures");
    assert.equal(downRun[1]!.changed, true);
    assert.deepEqual(pickSet(pool), new Set([addrA]));
    const snapB = pool.snapshot().upstreams[1]!;
    assert.equal(snapB.healthy, false);
    assert.equal(snapB.check, "down");
    assert.equal(snapB.lastCheck, "status 503 outside 200-399");
    assert.ok(
      metrics.render().includes(`qts_proxy_upstream_healthy{pool="web",upstream="${addrB}"} 0`),
    );

    b.status.value = 302; // 3xx passes by default
    await checks.until(addrB, true);
    const upRun = checks.events.filter((e) => e.upstream.address === addrB).slice(-2);
    assert.deepEqual(upRun.map((e) => [e.outcome, e.changed]), [["ok", false], ["ok", true]]);
    assert.deepEqual(pickSet(pool), new Set([addrA, addrB]));
    assert.ok(checksCounted(metrics, addrB, "status") >= 2);
  } finally {
    await pool.stop();
    await Promise.all([a.server.shutdown(), b.server.shutdown()]);
  }
});

Deno.test("health http: a stopped server goes down (refused) and comes back when restarted", async () => {
  const { a, b: first, addrA, addrB, checks, metrics, pool } = twoHttpUpstreams();
  let b = first;
  const portB = b.server.addr.port;
  try {
    pool.start();
    await checks.next("b checked", (e) => e.upstream.address === addrB && e.outcome === "ok");
    await b.server.shutdown();
    await checks.until(addrB, false);
    assert.equal(
      checks.events.filter((e) => e.upstream.address === addrB).at(-1)!.outcome,
      "refused",
    );
    assert.deepEqual(pickSet(pool), new Set([addrA]));

    b = httpUpstream(portB);
    await checks.until(addrB, true);
    assert.deepEqual(pickSet(pool), new Set([addrA, addrB]));
    assert.ok(checksCounted(metrics, addrB, "refused") >= 2);
  } finally {
    await pool.stop();
    await Promise.all([a.server.shutdown(), b.server.shutdown()]);
  }
});

Deno.test("health http: a server that accepts and never answers fails as timeout", async () => {
  const silent = silentListener();
  const address = silent.address;
  const checks = new Checks();
  const pool = healthPool([address], { ...FAST, kind: "http", timeoutMs: 50, fall: 1 }, checks);
  try {
    pool.start();
    await checks.until(address, false);
    const last = checks.events.at(-1)!;
    assert.equal(last.outcome, "timeout");
    assert.equal(last.detail, "no answer within 50 ms");
    assert.equal(pool.pick("192.0.2.1"), undefined, "nothing else to pick");
  } finally {
    await pool.stop();
    await silent.close();
  }
});

Deno.test("health tcp: a closed listener goes down, a new one on the port brings it back", async () => {
  let listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const address = `127.0.0.1:${port}`;
  // Accepts and closes at once: a TCP check needs only the handshake.
  const serve = (l: Deno.Listener) =>
    (async () => {
      try {
        for await (const conn of l) conn.close();
      } catch { /* listener closed */ }
    })();
  let accepting = serve(listener);
  const checks = new Checks();
  const metrics = new Metrics();
  const pool = healthPool([address], { kind: "tcp", ...FAST }, checks, metrics);
  try {
    pool.start();
    await checks.next("first check", (e) => e.outcome === "ok");
    assert.equal(pool.pick("192.0.2.1")?.address, address);

    listener.close();
    await accepting;
    await checks.until(address, false);
    assert.equal(pool.pick("192.0.2.1"), undefined);
    assert.equal(
      metrics.get("qts_proxy_pool_no_upstream_total", { pool: "web", reason: "down" }),
      1,
    );
    assert.equal(pool.snapshot().upstreams[0]!.check, "down");

    listener = Deno.listen({ hostname: "127.0.0.1", port });
    accepting = serve(listener);
    await checks.until(address, true);
    assert.equal(pool.pick("192.0.2.1")?.address, address);
  } finally {
    await pool.stop();
    listener.close();
    await accepting;
  }
});

Deno.test("health: coming back by active checks clears passive ejection", async () => {
  const a = httpUpstream();
  const address = `127.0.0.1:${a.server.addr.port}`;
  const checks = new Checks();
  const pool = new UpstreamPool({
    name: "web",
    balance: "round_robin",
    servers: [{ address }, { address: "127.0.0.1:9" }],
    health: { kind: "http", path: "/health", ...FAST, rise: 1 },
    passive: { maxFails: 1, failTimeoutMs: 3_600_000 },
  }, { onHealthCheck: checks.onHealthCheck });
  try {
    const u = pool.upstreams[0]!;
    pool.reportFailure(u);
    assert.equal(pool.snapshot().upstreams[0]!.ejected, true);
    pool.start();
    a.status.value = 500;
    await checks.until(address, false);
    a.status.value = 200;
    await checks.until(address, true);
    assert.equal(pool.snapshot().upstreams[0]!.ejected, false);
    assert.equal(pool.snapshot().upstreams[0]!.fails, 0);
  } finally {
    await pool.stop();
    await a.server.shutdown();
  }
});

Deno.test("UpstreamPool.stop() ends checks in flight at once and leaves nothing running", async () => {
  const silent = silentListener();
  const checks = new Checks();
  const pool = healthPool([silent.address], { ...FAST, kind: "http", timeoutMs: 600_000 }, checks);
  pool.start();
  await silent.accepted; // the check is connected and waiting for a status line that never comes
  await pool.stop();
  await pool.stop(); // a second stop is a no-op
  assert.equal(checks.events.length, 0, "a check cut short by stop() is not a result");
  await silent.close();
  // The test sanitizers fail this test if a timer or socket of the pool were left.
});

Deno.test("UpstreamPool.start() without `health` does nothing and stop() resolves", async () => {
  const pool = new UpstreamPool({
    name: "web",
    balance: "round_robin",
    servers: [{ address: "127.0.0.1:9" }],
  });
  pool.start();
  await pool.stop();
  assert.equal(pool.snapshot().upstreams[0]!.check, "off");
});
