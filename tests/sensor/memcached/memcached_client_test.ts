import assert from "node:assert/strict";
import {
  MemcachedClient,
  MemcachedUnavailableError,
} from "../../../src/sensor/memcached/memcached_client.ts";
import { memcachedMissing, startMemcached } from "./_memcached_server.ts";

const missing = memcachedMissing();
if (missing) console.warn(missing);

async function connected(server: string): Promise<MemcachedClient> {
  const client = new MemcachedClient({ server, timeoutMs: 2000 });
  await client.ready();
  assert.equal(client.state, "up");
  return client;
}

Deno.test({
  name: "MemcachedClient get/set/add/gets/cas/incr/delete against a real memcached",
  ignore: missing !== undefined,
  async fn() {
    const mc = await startMemcached();
    const client = await connected(mc.server);
    try {
      assert.equal(await client.get("k1"), null);
      assert.equal(await client.add("k1", "hello world"), true);
      assert.equal(await client.add("k1", "again"), false);
      assert.equal(await client.get("k1"), "hello world");
      const v = await client.gets("k1");
      assert.equal(v?.value, "hello world");
      assert.match(v!.cas, /^\d+$/);
      assert.equal(await client.cas("k1", "v2", 0, v!.cas), "STORED");
      assert.equal(await client.cas("k1", "v3", 0, v!.cas), "EXISTS", "stale CAS unique");
      assert.equal(await client.cas("nope", "v3", 0, v!.cas), "NOT_FOUND");
      assert.equal(await client.set("n", "41"), true);
      assert.equal(await client.incr("n", 1), 42);
      assert.equal(await client.incr("absent", 1), null);
      assert.equal(await client.delete("n"), true);
      assert.equal(await client.delete("n"), false);
      // Values with CRLF inside and UTF-8 survive; pipelined requests resolve in order.
      await client.set("crlf", "a\r\nEND\r\nb ✓");
      const many = await Promise.all(
        Array.from({ length: 200 }, (_, i) => i % 2 ? client.get("crlf") : client.get("k1")),
      );
      assert.deepEqual(many.slice(0, 2), ["v2", "a\r\nEND\r\nb ✓"]);
      assert.equal(many.filter((x) => x === "v2").length, 100);
      await assert.rejects(client.get("bad key"), TypeError);
    } finally {
      await client.close();
      await mc.stop();
    }
  },
});

Deno.test({
  name: "MemcachedClient fails fast while the server is down and reconnects when it is back",
  ignore: missing !== undefined,
  async fn() {
    const mc = await startMemcached();
    const states: string[] = [];
    let upAgain: () => void = () => {};
    const reconnected = new Promise<void>((resolve) => upAgain = resolve);
    const client = new MemcachedClient({
      server: mc.server,
      timeoutMs: 2000,
      reconnectMinMs: 10,
      reconnectMaxMs: 50,
      onState(state) {
        states.push(state);
        if (state === "up" && states.includes("down")) upAgain();
      },
    });
    await client.ready();
    let second: { stop(): Promise<void> } | undefined;
    try {
      assert.equal(await client.set("a", "1"), true);
      const inFlight = client.get("a").then((v) => v, (e: unknown) => e);
      await mc.stop();
      // Either answered before the kill or failed with the typed error; never hangs.
      const outcome = await inFlight;
      assert.ok(outcome === "1" || outcome instanceof MemcachedUnavailableError);
      await assert.rejects(client.get("a"), MemcachedUnavailableError);
      // A new server on another port does not help this client; restart on the same port.
      second = startOnPort(mc.port);
      await withTimeout(reconnected, 10_000, "reconnect");
      assert.equal(await client.get("a"), null, "fresh server is empty");
      assert.ok(states.includes("down"));
    } finally {
      await client.close();
      await second?.stop();
    }
  },
});

Deno.test("MemcachedClient rejects a bad server string at construction", () => {
  assert.throws(() => new MemcachedClient({ server: "nohostport" }), /host:port/);
});

function startOnPort(port: number): { stop(): Promise<void> } {
  const child = new Deno.Command("/usr/bin/memcached", {
    args: ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-u", "root"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    async stop() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
