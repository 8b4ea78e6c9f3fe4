import assert from "node:assert/strict";
import { limitReqMc } from "../../../src/sensor/filters/limit_req_mc.ts";
import type { LimitReqConfig, LimitReqZone } from "../../../src/shared/config/components.ts";
import type { HttpRecord } from "../../../src/sensor/wire/record.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";
import { nginxLimitReq } from "./_limit_req_reference.ts";
import { seededRandom } from "../../_support/random.ts";
import { memcachedStore } from "../../../src/sensor/memcached/memcached_store.ts";
import { memcachedMissing, startMemcached } from "../memcached/_memcached_server.ts";

function zone(fields: Partial<LimitReqZone> = {}): LimitReqZone {
  return {
    name: "def1",
    host: "",
    method: "",
    path: "",
    location: "/",
    key: "ip",
    rate: "1r/s",
    burst: 0,
    nodelay: false,
    ...fields,
  };
}

function config(...zones: LimitReqZone[]): LimitReqConfig {
  return {
    enabled: true,
    skip_if: [],
    backend: "local",
    ipv6_prefix: 64,
    servers: [],
    timeout_ms: 50,
    configurations: zones,
  };
}

type Decision = "pass" | "delay" | "reject";

/** Runs one request; the decision of zone `name` from events and the delayed flag. */
async function decide(
  f: ReturnType<typeof limitReqMc>,
  record: HttpRecord,
  now: number,
): Promise<{ decision: Decision; events: string[] }> {
  const ctx = ctxFor(record, now);
  await f.run(record, ctx);
  const decision: Decision = ctx.events.length > 0
    ? "reject"
    : ctx.flags.get("limit_req_delayed") === true
    ? "delay"
    : "pass";
  return { decision, events: ctx.events };
}

async function decisions(f: ReturnType<typeof limitReqMc>, times: number[]): Promise<Decision[]> {
  const out: Decision[] = [];
  for (const t of times) out.push((await decide(f, rec(), t)).decision);
  return out;
}

Deno.test("limitReqMc() burst 0 at 1r/s: one request per 1000 ms, to the millisecond", async () => {
  const times = [0, 500, 999, 1000, 1999, 2000, 2000, 5000];
  const got = await decisions(limitReqMc(config(zone())), times);
  assert.deepEqual(got, ["pass", "reject", "reject", "pass", "reject", "pass", "reject", "pass"]);
  assert.deepEqual(got, nginxLimitReq(times, "1r/s", 0, false));
});

Deno.test("limitReqMc() burst N admits N extra at once, delayed unless nodelay", async () => {
  const times = [0, 0, 0, 0, 0, 1000, 1000];
  const delayed = await decisions(limitReqMc(config(zone({ burst: 3 }))), times);
  assert.deepEqual(delayed, ["pass", "delay", "delay", "delay", "reject", "delay", "reject"]);
  assert.deepEqual(delayed, nginxLimitReq(times, "1r/s", 3, false));
  const nodelay = await decisions(limitReqMc(config(zone({ burst: 3, nodelay: true }))), times);
  assert.deepEqual(nodelay, ["pass", "pass", "pass", "pass", "reject", "pass", "reject"]);
  assert.deepEqual(nodelay, nginxLimitReq(times, "1r/s", 3, true));
});

Deno.test("limitReqMc() r/m keeps nginx's integer rate truncation (1r/m drains in 62.5 s)", async () => {
  const times = [0, 60_000, 62_499, 62_500];
  const got = await decisions(limitReqMc(config(zone({ rate: "1r/m" }))), times);
  assert.deepEqual(got, ["pass", "reject", "reject", "pass"]);
  assert.deepEqual(got, nginxLimitReq(times, "1r/m", 0, false));
});

Deno.test("limitReqMc() equals nginx's algorithm on random request times", async () => {
  const random = seededRandom(2024);
  for (const rate of ["1r/s", "10r/s", "600r/m", "7r/m", "3r/s"]) {
    for (const burst of [0, 1, 5]) {
      for (const nodelay of [false, true]) {
        const f = limitReqMc(config(zone({ rate, burst, nodelay })));
        const times: number[] = [];
        let t = 1_700_000_000_000;
        for (let i = 0; i < 400; i++) {
          t += random() < 0.1 ? Math.floor(random() * 20_000) : Math.floor(random() * 400);
          times.push(t);
        }
        assert.deepEqual(
          await decisions(f, times),
          nginxLimitReq(times, rate, burst, nodelay),
          `${rate} burst ${burst} nodelay ${nodelay}`,
        );
      }
    }
  }
});

/** Request times that mostly advance but go back by up to 300 ms, and now and then by > 60 s. */
function outOfOrderTimes(random: () => number, n: number, start: number): number[] {
  const times: number[] = [];
  let t = start;
  for (let i = 0; i < n; i++) {
    const roll = random();
    if (roll < 0.01) t -= 60_001 + Math.floor(random() * 120_000); // clock set back
    else if (roll < 0.35) t -= Math.floor(random() * 301);
    else if (roll < 0.4) t += Math.floor(random() * 20_000);
    else t += Math.floor(random() * 400);
    times.push(t);
  }
  return times;
}

Deno.test("limitReqMc() an earlier time drains nothing and leaves last where it is (nginx ≥ 1.15)", async () => {
  // 10r/s burst 1: 1 request per 100 ms. Two clocks 200 ms apart, alternating: with
  // abs(now - last) every backward step drained 200 ms again and all four passed.
  const times = [10_000, 9_800, 10_010, 9_810];
  const got = await decisions(limitReqMc(config(zone({ rate: "10r/s", burst: 1 }))), times);
  assert.deepEqual(got, ["pass", "delay", "reject", "reject"]);
  assert.deepEqual(got, nginxLimitReq(times, "10r/s", 1, false));
  // 60 s back is still "another clock" (0 ms); more than 60 s back is a clock change, counted
  // as 1 ms, which at 1000r/s drains one request, and last moves back to the new clock.
  const edges = [100_000, 40_000, 40_000, 39_999, 39_999, 40_000];
  const edge = await decisions(limitReqMc(config(zone({ rate: "1000r/s", burst: 1 }))), edges);
  assert.deepEqual(edge, ["pass", "delay", "reject", "delay", "reject", "delay"]);
  assert.deepEqual(edge, nginxLimitReq(edges, "1000r/s", 1, false));
});

Deno.test("limitReqMc() equals nginx ≥ 1.15 on out-of-order request times", async () => {
  const random = seededRandom(1615);
  for (const rate of ["1r/s", "10r/s", "600r/m", "7r/m", "3r/s", "1000r/s"]) {
    for (const burst of [0, 1, 5]) {
      for (const nodelay of [false, true]) {
        const f = limitReqMc(config(zone({ rate, burst, nodelay })));
        const times = outOfOrderTimes(random, 400, 1_700_000_000_000);
        assert.deepEqual(
          await decisions(f, times),
          nginxLimitReq(times, rate, burst, nodelay),
          `${rate} burst ${burst} nodelay ${nodelay}`,
        );
      }
    }
  }
});

Deno.test("limitReqMc() flags a delay only when nginx's excess * 1000 / rate is at least 1 ms", async () => {
  // 3r/s: 333 ms drain 999 of the 1000 added, excess 1 → delay 1 * 1000 / 3000 = 0 ms: PASSED.
  const times = [0, 333, 333];
  const got = await decisions(limitReqMc(config(zone({ rate: "3r/s", burst: 2 }))), times);
  assert.deepEqual(got, ["pass", "pass", "delay"]);
  assert.deepEqual(got, nginxLimitReq(times, "3r/s", 2, false));
});

Deno.test("limitReqMc() names the event loc_rate_<name>_<METHOD><location>", async () => {
  const f = limitReqMc(config(zone({ location: "/api" })));
  await decide(f, rec({ method: "POST" }), 0);
  const { events } = await decide(f, rec({ method: "POST" }), 1);
  assert.deepEqual(events, ["loc_rate_def1_POST/api"]);
  const seed = limitReqMc(config(zone()));
  await decide(seed, rec(), 0);
  assert.deepEqual((await decide(seed, rec(), 1)).events, ["loc_rate_def1_GET/"]);
});

Deno.test("limitReqMc() keys ip, ip_ua and ip_path count separately", async () => {
  const byUa = limitReqMc(config(zone({ key: "ip_ua" })));
  await decide(byUa, rec({ http_user_agent: "a" }), 0);
  assert.equal((await decide(byUa, rec({ http_user_agent: "b" }), 1)).decision, "pass");
  assert.equal((await decide(byUa, rec({ http_user_agent: "a" }), 2)).decision, "reject");
  const byPath = limitReqMc(config(zone({ key: "ip_path" })));
  await decide(byPath, rec({ url: "/a?x=1" }), 0);
  assert.equal((await decide(byPath, rec({ url: "/b" }), 1)).decision, "pass");
  assert.equal(
    (await decide(byPath, rec({ url: "/a?y=2" }), 2)).decision,
    "reject",
    "query ignored",
  );
  const byIp = limitReqMc(config(zone()));
  await decide(byIp, rec({ ip: "1.1.1.1" }), 0);
  assert.equal((await decide(byIp, rec({ ip: "2.2.2.2" }), 1)).decision, "pass");
  assert.equal((await decide(byIp, rec({ ip: "2001:db8::1" }), 1)).decision, "pass");
  assert.equal((await decide(byIp, rec({ ip: "2001:db8::1" }), 2)).decision, "reject");
});

Deno.test("limitReqMc() applies only configurations whose host, method and path match", async () => {
  const f = limitReqMc(config(
    zone({ name: "login", method: "POST", path: "^/login$", host: "^shop\\." }),
    zone({ name: "all", rate: "100r/s", burst: 100 }),
  ));
  const hits = async (fields: Partial<HttpRecord>) => {
    await decide(f, rec(fields), 0);
    return (await decide(f, rec(fields), 1)).events;
  };
  assert.deepEqual(await hits({ method: "POST", url: "/login", host: "shop.example" }), [
    "loc_rate_login_POST/",
  ]);
  assert.deepEqual(
    await hits({ method: "GET", url: "/login", host: "shop.example", remote_ip: 2 }),
    [],
  );
  assert.deepEqual(
    await hits({ method: "POST", url: "/logout", host: "shop.example", remote_ip: 3 }),
    [],
  );
  assert.deepEqual(
    await hits({ method: "POST", url: "/login", host: "www.example", remote_ip: 4 }),
    [],
  );
});

Deno.test("limitReqMc() counts only first-phase records", async () => {
  const f = limitReqMc(config(zone()));
  await decide(f, rec(), 0);
  const ctx = ctxFor(rec(), 1, "response");
  await f.run(rec(), ctx);
  assert.deepEqual(ctx.events, []);
  assert.equal((await decide(f, rec(), 1000)).decision, "pass", "the response did not count");
});

Deno.test("limitReqMc() sweep drops drained keys only, which changes no decision", async () => {
  const f = limitReqMc(config(zone({ rate: "1r/m", burst: 5 })));
  for (let i = 0; i < 5; i++) await decide(f, rec(), 0);
  await decide(f, rec({ ip: "2.2.2.2" }), 0);
  f.sweep!(70_000);
  assert.equal(f.stats().keys, 1, "2.2.2.2 drained after 62.5 s; 1.1.1.1 holds excess 4000");
  f.sweep!(400_000);
  assert.equal(f.stats().keys, 0);
  assert.equal(f.stats().bytes, 0, "a sweep that empties a zone's buckets drops them");
});

Deno.test("limitReqMc() instances of one configuration share its zones, not their buckets", async () => {
  const shared = config(
    zone({ name: "login", method: "POST", path: "^/login$" }),
    zone({ name: "all" }),
  );
  const a = limitReqMc(shared);
  const b = limitReqMc(shared);
  assert.deepEqual(a.stats(), { keys: 0, bytes: 0 }, "no buckets before a zone counts a key");
  assert.equal((await decide(a, rec(), 0)).decision, "pass");
  assert.equal(a.stats().keys, 1, "only the zone that matched made buckets");
  assert.equal((await decide(a, rec(), 1)).decision, "reject");
  assert.equal((await decide(b, rec(), 2)).decision, "pass", "b has buckets of its own");
  const twice = config(zone(), zone());
  assert.throws(() => limitReqMc(twice), /"def1" twice/);
  assert.throws(() => limitReqMc(twice), /"def1" twice/, "a failed build is not kept");
});

Deno.test("limitReqMc() sweep keeps a key the next request would still find charged", async () => {
  // 1r/m burst 0 drains 960 of 1000 in 60 s: nginx rejects at 60 s, as if the key was kept.
  const slow = limitReqMc(config(zone({ rate: "1r/m" })));
  await decide(slow, rec(), 0);
  slow.sweep!(60_000);
  assert.equal(slow.stats().keys, 1);
  assert.equal((await decide(slow, rec(), 60_000)).decision, "reject");
  // A last time 70 s ahead of the sweep's clock (set back): nginx will count 1 ms, not 70 s.
  const times = [100_000, 100_000, 30_000];
  const ahead = limitReqMc(config(zone({ burst: 2 })));
  const got = [(await decide(ahead, rec(), times[0]!)).decision];
  got.push((await decide(ahead, rec(), times[1]!)).decision);
  ahead.sweep!(30_000);
  assert.equal(ahead.stats().keys, 1, "abs(30 000 - 100 000) is not 70 s of draining");
  got.push((await decide(ahead, rec(), times[2]!)).decision);
  assert.deepEqual(got, nginxLimitReq(times, "1r/s", 2, false));
  assert.deepEqual(got, ["pass", "delay", "delay"]);
});

Deno.test("limitReqMc() rejects bad configurations at build time", () => {
  assert.throws(() => limitReqMc(config(zone({ rate: "10r/h" }))), SyntaxError);
  assert.throws(() => limitReqMc(config(zone({ rate: "0r/s" }))), /below 1 request/);
  assert.throws(() => limitReqMc(config(zone(), zone())), /"def1" twice/);
  assert.throws(() => limitReqMc(config(zone({ path: "(" }))), /configurations\[0\] "def1": path/);
  assert.throws(
    () => limitReqMc({ ...config(zone()), backend: "memcached" }),
    /needs "servers"/,
  );
  assert.throws(
    () => limitReqMc({ ...config(zone()), backend: "memcached", servers: ["127.0.0.1:1"] }),
    /backend memcached has no store here/,
  );
});

const mcMissing = memcachedMissing();
if (mcMissing) console.warn(mcMissing);

Deno.test({
  name: "limitReqMc() instances sharing a real memcached decide as one nginx on the merged stream",
  ignore: mcMissing !== undefined,
  async fn() {
    const mc = await startMemcached();
    const shared = (): LimitReqConfig => ({
      ...config(zone({ rate: "10r/s", burst: 2, nodelay: true })),
      backend: "memcached",
      servers: [mc.server],
      timeout_ms: 2000,
    });
    const a = limitReqMc(shared(), { sharedStore: memcachedStore() });
    const b = limitReqMc(shared(), { sharedStore: memcachedStore() });
    try {
      await Promise.all([a.ready(), b.ready()]);
      const random = seededRandom(5);
      const times: number[] = [];
      const got: Decision[] = [];
      let t = 1_000_000;
      for (let i = 0; i < 300; i++) {
        t += Math.floor(random() * 250);
        times.push(t);
        got.push((await decide(i % 3 === 0 ? a : b, rec(), t)).decision);
      }
      assert.deepEqual(got, nginxLimitReq(times, "10r/s", 2, true));
      assert.ok(got.includes("reject") && got.includes("pass"));
      assert.equal(a.counters().fallback + b.counters().fallback, 0);
      assert.equal(a.counters().shared + b.counters().shared, 300);
      // Concurrent requests from both race on CAS and still count every pass exactly once.
      const burst = await Promise.all(
        Array.from(
          { length: 40 },
          (_, i) => decide(i % 2 ? a : b, rec({ ip: "9.9.9.9" }), 5_000_000),
        ),
      );
      assert.equal(burst.filter((r) => r.decision === "pass").length, 3, "1 + burst 2");
    } finally {
      await a.close!();
      await b.close!();
      await mc.stop();
    }
  },
});

Deno.test({
  name: "limitReqMc() two instances on a real memcached, one clock 200 ms behind, pass nginx's 105",
  ignore: mcMissing !== undefined,
  async fn() {
    const mc = await startMemcached();
    const shared = (): LimitReqConfig => ({
      ...config(zone({ rate: "10r/s", burst: 5 })),
      backend: "memcached",
      servers: [mc.server],
      timeout_ms: 2000,
    });
    const a = limitReqMc(shared(), { sharedStore: memcachedStore() });
    const b = limitReqMc(shared(), { sharedStore: memcachedStore() });
    try {
      await Promise.all([a.ready(), b.ready()]);
      // One client at 100 r/s for 10 s against 10r/s burst 5, alternately through a and b;
      // b's clock is 200 ms behind, so the stream memcached sees steps back and forth.
      const times: number[] = [];
      const got: Decision[] = [];
      for (let i = 0; i < 1000; i++) {
        const t = 1_700_000_000_000 + i * 10 - (i % 2 === 1 ? 200 : 0);
        times.push(t);
        got.push((await decide(i % 2 === 1 ? b : a, rec(), t)).decision);
      }
      // 1 + burst 5 at once, then one per 100 ms for the other 9.9 s. abs(now - last) (nginx
      // ≤ 1.14) drained 190-210 ms on every request and let all 1,000 through.
      assert.equal(got.filter((d) => d !== "reject").length, 105, "passed of 1,000");
      assert.deepEqual(got, nginxLimitReq(times, "10r/s", 5, false));
      assert.equal(got.filter((d, i) => d !== "reject" && i % 2 === 1).length, 3, "b: burst only");
      assert.equal(a.counters().shared + b.counters().shared, 1000);
      assert.equal(a.counters().fallback + b.counters().fallback, 0);

      // Random out-of-order times (back by up to 300 ms, now and then by more than 60 s) on
      // another key, through either instance: still one nginx on the merged stream.
      for (
        const [n, rate, burst] of [[1, "10r/s", 0], [2, "3r/s", 2], [3, "1000r/s", 1]] as const
      ) {
        const both = (): LimitReqConfig => ({
          ...shared(),
          configurations: [zone({ rate, burst })],
        });
        const c = limitReqMc(both(), { sharedStore: memcachedStore() });
        const d = limitReqMc(both(), { sharedStore: memcachedStore() });
        try {
          await Promise.all([c.ready(), d.ready()]);
          const random = seededRandom(n);
          const mixed = outOfOrderTimes(random, 300, 1_000_000_000);
          const out: Decision[] = [];
          for (const t of mixed) {
            out.push((await decide(random() < 0.5 ? c : d, rec({ ip: `9.9.9.${n}` }), t)).decision);
          }
          assert.deepEqual(out, nginxLimitReq(mixed, rate, burst, false), `${rate} burst ${burst}`);
          assert.equal(c.counters().fallback + d.counters().fallback, 0);
        } finally {
          await c.close!();
          await d.close!();
        }
      }
    } finally {
      await a.close!();
      await b.close!();
      await mc.stop();
    }
  },
});

Deno.test({
  name: "limitReqMc() mirrors memcached's last time locally, so a fallback continues exactly",
  ignore: mcMissing !== undefined,
  async fn() {
    const mc = await startMemcached();
    const f = limitReqMc({
      ...config(zone({ rate: "10r/s", burst: 5 })),
      backend: "memcached",
      servers: [mc.server],
      timeout_ms: 2000,
    }, { sharedStore: memcachedStore() });
    try {
      await f.ready();
      const times = outOfOrderTimes(seededRandom(77), 150, 5_000_000);
      // Last shared request stamped 200 ms before the key's last: memcached keeps last; the
      // mirror must too, or the first local request drains those 200 ms.
      const top = Math.max(...times) + 10_000;
      times.push(top, top - 200);
      const got: Decision[] = [];
      for (const t of times) got.push((await decide(f, rec(), t)).decision);
      assert.equal(f.counters().fallback, 0);
      await mc.stop();
      const after = [top + 50, top + 60, top - 100, top + 400, top + 2_000];
      for (const t of after) got.push((await decide(f, rec(), t)).decision);
      assert.equal(f.counters().fallback, after.length, "decided locally");
      assert.deepEqual(got, nginxLimitReq([...times, ...after], "10r/s", 5, false));
    } finally {
      await f.close!();
      await mc.stop();
    }
  },
});

Deno.test({
  name: "limitReqMc() in two processes rejects together, and counts locally once memcached dies",
  ignore: mcMissing !== undefined,
  async fn() {
    const mc = await startMemcached();
    const children = [spawnChild(mc.server), spawnChild(mc.server)];
    try {
      // Phase 1: 20 r/s split over two sensors against 10r/s burst 0 (rate in 1/1000 units).
      const times: number[] = [];
      const got: Decision[] = [];
      for (let i = 0; i < 60; i++) {
        const t = 10_000 + i * 50;
        times.push(t);
        const answer = await children[i % 2]!.ask(t);
        got.push(answer.events.length > 0 ? "reject" : "pass");
        assert.equal(answer.counters.fallback, 0, `request ${i} decided by memcached`);
      }
      assert.deepEqual(got, nginxLimitReq(times, "10r/s", 0, true));
      assert.equal(got.filter((d) => d === "reject").length, 30, "together: every other one");
      // Each alone sees only 10 r/s and would pass them all; they reject because they share.
      assert.deepEqual(
        nginxLimitReq(times.filter((_, i) => i % 2 === 0), "10r/s", 0, true)
          .filter((d) => d === "reject"),
        [],
      );

      await mc.stop();
      // Phase 2: memcached is gone; 40 r/s to each. Every request is answered, locally, by
      // nginx's arithmetic over what that sensor alone sees (1 in 4 passes).
      const after = [[], []] as Decision[][];
      const own = [[], []] as number[][];
      let last: { counters: { fallback: number } }[] = [];
      for (let i = 0; i < 80; i++) {
        const t = 20_000 + Math.floor(i / 2) * 25;
        const answer = await children[i % 2]!.ask(t);
        after[i % 2]!.push(answer.events.length > 0 ? "reject" : "pass");
        own[i % 2]!.push(t);
        last[i % 2] = answer;
      }
      for (const side of [0, 1]) {
        assert.equal(last[side]!.counters.fallback, 40, `child ${side} counted locally`);
        assert.deepEqual(after[side], nginxLimitReq(own[side]!, "10r/s", 0, true));
        assert.equal(after[side]!.filter((d) => d === "reject").length, 30);
      }
      last = [];
    } finally {
      for (const child of children) await child.stop();
      await mc.stop();
    }
  },
});

interface ChildAnswer {
  events: string[];
  counters: { fallback: number; shared: number };
}

function spawnChild(server: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      new URL("./_limit_req_child.ts", import.meta.url).pathname,
      server,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const encoder = new TextEncoder();
  return {
    async ask(now: number): Promise<ChildAnswer> {
      await writer.write(encoder.encode(`${now}\n`));
      for (;;) {
        const nl = buffer.indexOf("\n");
        if (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          return JSON.parse(line) as ChildAnswer;
        }
        const { value, done } = await lines.read();
        if (done) throw new Error("limit_req child exited");
        buffer += value;
      }
    },
    async stop(): Promise<void> {
      await writer.close().catch(() => {});
      while (!(await lines.read()).done) { /* drain */ }
      await child.status;
    },
  };
}

Deno.test("limitReqMc() decides locally at once while memcached hangs or is down", async () => {
  // A server that accepts connections and never answers: the first request waits timeout_ms,
  // then the client is marked down and later requests do not wait at all.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const logs: string[] = [];
  const f = limitReqMc({
    ...config(zone()),
    backend: "memcached",
    servers: [`127.0.0.1:${(listener.addr as Deno.NetAddr).port}`],
    timeout_ms: 30,
  }, {
    log: (_level, msg) => logs.push(msg),
    sharedStore: memcachedStore((_level, msg) => logs.push(msg)),
  });
  try {
    await f.ready();
    const first = await decide(f, rec(), 0);
    assert.equal(first.decision, "pass");
    assert.equal(f.counters().fallback, 1);
    const record = rec();
    const ctx = ctxFor(record, 1);
    const returned = f.run(record, ctx);
    assert.equal(returned, undefined, "synchronous: nothing to wait for");
    assert.deepEqual(ctx.events, ["loc_rate_def1_GET/"], "local bucket continues");
    assert.equal(f.counters().fallback, 2);
    assert.ok(logs.some((l) => l.includes("counting locally")));
  } finally {
    await f.close!();
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});
