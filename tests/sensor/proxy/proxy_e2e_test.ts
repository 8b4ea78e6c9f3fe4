import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, metricValue, startSensor, waitFor } from "../../_support/sensor_process.ts";
import { FLOOD_DOMAIN, startQtsProxy, startUpstream } from "./_processes.ts";

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, text: await res.text() };
}

Deno.test({
  name:
    "qts proxy: HTTP to two upstreams, WebSocket and TCP both ways, failover with no failed GET",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-proxy-e2e-" });
    const p = {
      a: freePort(),
      b: freePort(),
      ws: freePort(),
      tcp: freePort(),
      web: freePort(),
      wsl: freePort(),
      tcpl: freePort(),
      api: freePort(),
    };
    const ini = join(dir, "qts.ini");
    await Deno.writeTextFile(
      ini,
      `[proxy]
api = 127.0.0.1:${p.api}
connect_timeout = 1s
[proxy:http:web]
listen = 127.0.0.1:${p.web}
pool = web
[proxy:http:ws]
listen = 127.0.0.1:${p.wsl}
pool = ws
[proxy:tcp:echo]
listen = 127.0.0.1:${p.tcpl}
pool = echo
[proxy:pool:web]
balance = round_robin
servers = 127.0.0.1:${p.a}, 127.0.0.1:${p.b}
health = http
health_path = /healthz
health_interval = 300ms
health_timeout = 200ms
health_rise = 1
health_fall = 1
[proxy:pool:ws]
servers = 127.0.0.1:${p.ws}
[proxy:pool:echo]
servers = 127.0.0.1:${p.tcp}
health = tcp
health_interval = 1s
`,
    );
    const a = await startUpstream("http", p.a, "a");
    const b = await startUpstream("http", p.b, "b");
    const ws = await startUpstream("ws", p.ws);
    const tcp = await startUpstream("tcp", p.tcp);
    const proxy = await startQtsProxy(ini);
    try {
      const base = `http://127.0.0.1:${p.web}`;
      // Both upstreams answer, each with what it was asked.
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const r = await get(`${base}/page${i}`);
        assert.equal(r.status, 200);
        assert.match(r.text, new RegExp(`^[ab] /page${i}\\n$`));
        seen.add(r.text[0]!);
      }
      assert.deepEqual([...seen].sort(), ["a", "b"]);

      // WebSocket frames both ways.
      const socket = new WebSocket(`ws://127.0.0.1:${p.wsl}/`);
      const frames: string[] = [];
      const got = Promise.withResolvers<void>();
      socket.onopen = () => ["x", "y", "z"].forEach((m) => socket.send(m));
      socket.onmessage = (e) => {
        frames.push(String(e.data));
        if (frames.length === 3) got.resolve();
      };
      socket.onerror = () => got.reject(new Error("websocket failed"));
      await got.promise;
      assert.deepEqual(frames, ["echo:x", "echo:y", "echo:z"]);
      const wsClosed = Promise.withResolvers<void>();
      socket.onclose = () => wsClosed.resolve();
      socket.close();
      await wsClosed.promise;

      // TCP bytes both ways, with a half-close.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: p.tcpl });
      const payload = new Uint8Array(200_000).map((_, i) => i % 251);
      const reading = (async () => {
        const chunks: Uint8Array[] = [];
        const buf = new Uint8Array(65536);
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          chunks.push(buf.slice(0, n));
        }
        const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
        let off = 0;
        for (const c of chunks) {
          out.set(c, off);
          off += c.length;
        }
        return out;
      })();
      let off = 0;
      while (off < payload.length) off += await conn.write(payload.subarray(off));
      await conn.closeWrite();
      assert.deepEqual(await reading, payload);
      conn.close();

      // Failover: stop upstream a while requests flow; none may fail, and within the health
      // check interval every answer comes from b.
      let failures = 0;
      let total = 0;
      let running = true;
      const load = (async () => {
        while (running) {
          const r = await get(`${base}/load`).catch(() => ({ status: 0, text: "" }));
          total++;
          if (r.status !== 200) failures++;
        }
      })();
      await new Promise((r) => setTimeout(r, 200));
      await a.stop();
      // Three health-check intervals (300 ms) for the pool to mark a down.
      await new Promise((r) => setTimeout(r, 900));
      const after: string[] = [];
      for (let i = 0; i < 10; i++) after.push((await get(`${base}/after`)).text);
      running = false;
      await load;
      assert.equal(failures, 0, `${failures} of ${total} requests failed during the failover`);
      assert.deepEqual(after, Array(10).fill("b /after\n"));
      const status = await (await fetch(`http://127.0.0.1:${p.api}/proxy`)).json();
      const web = status.data.pools.find((x: { name: string }) => x.name === "web");
      assert.equal(
        web.upstreams.find((u: { address: string }) => u.address === `127.0.0.1:${p.a}`).healthy,
        false,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${p.api}/metrics`)).text();
      assert.match(metrics, /qts_proxy_tunnels_total\{listener="ws",end="closed"\} 1/);
      assert.match(metrics, /qts_proxy_tunnels_total\{listener="echo",end="closed"\} 1/);
      assert.match(
        metrics,
        new RegExp(`qts_proxy_upstream_healthy\\{pool="web",upstream="127.0.0.1:${p.a}"\\} 0`),
      );
    } finally {
      await proxy.stop();
      await Promise.all([a.stop(), b.stop(), ws.stop(), tcp.stop()]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * `qts serve` with the proxy in process (one HTTP listener `web` before an upstream) on a temp
 * directory, with `domain` as the configuration of domain 8984. No input but the proxy: the
 * ZeroMQ input binds (it always does) and nothing feeds it.
 */
async function serveWithProxy(domain: unknown, workers: number) {
  const dir = await Deno.makeTempDir({ prefix: "qts-proxy-serve-" });
  const state = join(dir, "state");
  await Deno.mkdir(join(state, "filters"), { recursive: true });
  await Deno.writeTextFile(join(state, "filters", "8984.json"), JSON.stringify(domain));
  const p = { up: freePort(), web: freePort(), api: freePort(), input: freePort() };
  const ini = join(dir, "qts.ini");
  await Deno.writeTextFile(
    ini,
    `[tsng]
input = tcp://127.0.0.1:${p.input}
api_server_port = ${p.api}
state_dir = ${state}
filters_config_dir = ${join(state, "filters")}
components_config_dir = ${join(state, "components")}
force_domains = 8984
workers = ${workers}
[tsng:qpc]
outbound = tcp://127.0.0.1:${freePort()}
[proxy]
enabled = true
trusted_proxies = 127.0.0.1
[proxy:http:web]
listen = 127.0.0.1:${p.web}
pool = web
[proxy:pool:web]
servers = 127.0.0.1:${p.up}
`,
  );
  const up = await startUpstream("http", p.up, "site");
  const sensor = await startSensor(ini);
  return {
    sensor,
    base: `http://127.0.0.1:${p.web}`,
    async stop() {
      await sensor.stop();
      await up.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test({
  name:
    "qts serve with [proxy]: a flood through the proxy is banned by the sensor, then refused while others pass",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { sensor, base, stop } = await serveWithProxy(FLOOD_DOMAIN, 1);
    try {
      const as = (ip: string) => get(`${base}/`, { "x-forwarded-for": ip });
      assert.equal((await as("192.0.2.50")).status, 200);
      // The flood: 40 requests at once from one address.
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await as("192.0.2.66")).status);
      const ban = await waitFor("the sensor to ban the flooding address", async () => {
        const bans = await (await fetch(`${sensor.api}/bans/8984`)).json();
        return bans.data.find((x: { ip: string }) => x.ip === "192.0.2.66");
      });
      assert.equal(ban.rule_name, "tsng.proxy_flood");
      await waitFor(
        "the proxy to refuse the banned address",
        async () => (await as("192.0.2.66")).status === 403 ? true : undefined,
      );
      assert.equal((await as("192.0.2.50")).status, 200, "another client still passes");
      assert.ok(
        statuses.filter((s) => s === 200).length >= 5,
        "the flood was proxied until the ban",
      );
      const proxy = await (await fetch(`${sensor.api}/proxy`)).json();
      assert.equal(proxy.data.listeners[0].name, "web");
      const metrics = await (await fetch(`${sensor.api}/metrics`)).text();
      assert.match(metrics, /qts_proxy_refused_total\{listener="web",reason="banned"\} [1-9]/);
      assert.match(metrics, /qts_proxy_records_total\{listener="web",result="ok"\} [1-9]/);
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name:
    "qts serve with [proxy], workers 0: records of concurrent requests reach the chain in batches, each decided",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Every request from 192.0.2.0/24 is an event (no projection bans it: a ban mid-flight would
    // close the pooled connections that carry other sources).
    const { sensor, base, stop } = await serveWithProxy({
      fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["192.0.2.0/24"] }] },
      limit_req_mc: { enabled: false },
      lm: { use_component_projections: false, projections: [] },
    }, 0);
    try {
      const sources = Array.from({ length: 100 }, (_, i) => `192.0.2.${i + 1}`);
      const statuses = await Promise.all(
        sources.map(async (ip) => (await get(`${base}/`, { "x-forwarded-for": ip })).status),
      );
      assert.deepEqual(statuses, sources.map(() => 200));
      // One fixed_bad event per request: each record was decided.
      const metrics = await waitFor("an event for each request", async () => {
        const text = await (await fetch(`${sensor.api}/metrics`)).text();
        const events = metricValue(text, `qts_events_total{domain="8984"}`) ?? 0;
        return events >= sources.length ? text : undefined;
      });
      assert.equal(metricValue(metrics, `qts_events_total{domain="8984"}`), sources.length);
      const records = metricValue(metrics, "qts_chain_batch_records_total") ?? 0;
      const batches = metricValue(metrics, "qts_chain_batches_total") ?? 0;
      assert.ok(records >= sources.length, `${records} records`);
      assert.ok(records > batches, `${records} records in ${batches} chain runs`);
    } finally {
      await stop();
    }
  },
});
