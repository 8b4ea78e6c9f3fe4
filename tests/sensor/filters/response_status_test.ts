import assert from "node:assert/strict";
import {
  MAX_SHARED_IN_FLIGHT,
  responseStatus,
  type ResponseStatusInstance,
} from "../../../src/sensor/filters/response_status.ts";
import { counterKey, sourceToken } from "../../../src/sensor/filters/_status_shared.ts";
import type { FilterDeps, SharedStore } from "../../../src/sensor/filters/types.ts";
import type { ResponseStatusConfig, StatusRule } from "../../../src/shared/config/components.ts";
import {
  EMBEDDED_DEFAULT_CONF,
  parseDefaultConf,
} from "../../../src/shared/config/load_components.ts";
import type { HttpRecord } from "../../../src/sensor/wire/record.ts";
import { MemcachedClient } from "../../../src/sensor/memcached/memcached_client.ts";
import { memcachedStore } from "../../../src/sensor/memcached/memcached_store.ts";
import { memcachedMissing, startMemcached } from "../memcached/_memcached_server.ts";
import { seededRandom } from "../../_support/random.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";

/** A window-aligned start (divisible by 60 and 600), in seconds. */
const T0 = 1_700_000_400;

function rule(fields: Partial<StatusRule> = {}): StatusRule {
  return {
    name: "auth",
    status: [401],
    method: "",
    path: "",
    unless: [],
    count: 5,
    window: 60,
    min_share: 0,
    ...fields,
  };
}

function config(...rules: StatusRule[]): ResponseStatusConfig {
  return {
    enabled: true,
    skip_if: [],
    backend: "local",
    servers: [],
    timeout_ms: 50,
    ipv6_prefix: 64,
    rules,
  };
}

interface Answer {
  id?: string;
  ip?: string;
  status?: number;
  method?: string;
  url?: string;
  reqType?: number;
  phase?: "first" | "response";
  flags?: Record<string, boolean>;
}

/** One completed response at `sec` seconds (default: the after-half of a 401 to GET /). */
async function respond(
  f: ResponseStatusInstance,
  sec: number,
  answer: Answer = {},
): Promise<string[]> {
  const record: HttpRecord = rec({
    ip: answer.ip ?? "203.0.113.7",
    status: answer.status ?? 401,
    method: answer.method ?? "GET",
    url: answer.url ?? "/",
    req_type: answer.reqType ?? 1,
    qrator_request_id: answer.id ?? "",
  });
  const ctx = ctxFor(record, sec * 1000, answer.phase ?? "response", answer.flags ?? {});
  await f.run(record, ctx);
  return ctx.events;
}

/** Runs responses and returns, per response, whether it emitted `status_<name>`. */
async function hits(
  f: ResponseStatusInstance,
  times: number[],
  answer: Answer = {},
): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const t of times) out.push((await respond(f, t, answer)).length > 0);
  return out;
}

Deno.test("responseStatus() emits status_auth from the 5th 401 within the window", async () => {
  const f = responseStatus(config(rule()));
  const events: string[][] = [];
  for (let i = 0; i < 6; i++) events.push(await respond(f, T0 + i * 5));
  assert.deepEqual(events, [[], [], [], [], ["status_auth"], ["status_auth"]]);
  assert.deepEqual(f.counters(), {
    responses: 6,
    failures: 6,
    events: 2,
    shared: 0,
    fallback: 0,
  });
  // Successes in between neither count nor reset anything (no min_share here).
  const g = responseStatus(config(rule()));
  const mixed: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    mixed.push(...await hits(g, [T0 + i], { status: 200 }));
    mixed.push(...await hits(g, [T0 + i]));
  }
  assert.deepEqual(mixed, [false, false, false, false, false, false, false, false, false, true]);
});

Deno.test("responseStatus() weighs the previous window by how much of it still overlaps", async () => {
  const f = responseStatus(config(rule({ count: 5, window: 60 })));
  // Four failures late in window 0, then more a quarter into window 1 (overlap 0.75): the
  // estimate is this window's count + 4 × 0.75 = 3 + count.
  assert.deepEqual(await hits(f, [T0 + 50, T0 + 50, T0 + 50, T0 + 50]), [
    false,
    false,
    false,
    false,
  ]);
  assert.deepEqual(await hits(f, [T0 + 75, T0 + 75]), [false, true], "1 + 3 = 4, then 2 + 3 = 5");
  // Three quarters into window 1 (overlap 0.25): 4 × 0.25 = 1, so four new failures are needed.
  const g = responseStatus(config(rule({ count: 5, window: 60 })));
  await hits(g, [T0 + 50, T0 + 50, T0 + 50, T0 + 50]);
  assert.deepEqual(await hits(g, [T0 + 105, T0 + 105, T0 + 105, T0 + 105]), [
    false,
    false,
    false,
    true,
  ]);
});

Deno.test("responseStatus() forgets failures older than two windows", async () => {
  const f = responseStatus(config(rule({ count: 5, window: 60 })));
  await hits(f, [T0 + 59, T0 + 59, T0 + 59, T0 + 59]);
  // Window 2: window 0 is not the previous one, so nothing of it is left.
  assert.deepEqual(await hits(f, [T0 + 120, T0 + 120, T0 + 120, T0 + 120, T0 + 121]), [
    false,
    false,
    false,
    false,
    true,
  ]);
});

Deno.test("responseStatus() counts a late record in the newest window instead of rewinding", async () => {
  const f = responseStatus(config(rule({ count: 5, window: 60 })));
  await hits(f, [T0 + 61, T0 + 61, T0 + 61, T0 + 61]);
  // A log line stamped a second before the others (window 0) still adds to the count.
  assert.deepEqual(await hits(f, [T0 + 59]), [true]);
  assert.deepEqual(await hits(f, [T0 + 62]), [true], "the window was not wiped");
});

Deno.test("responseStatus() min_share spares 60 users behind one gateway but not a brute-forcer", async () => {
  const gateway = "198.51.100.1";
  const nat = () => {
    // 60 users load 5 pages each; 4 of them mistype their password once, then log in.
    const answers: [number, Answer][] = [];
    for (let user = 0; user < 60; user++) {
      const t = T0 + user * 5;
      for (let page = 0; page < 5; page++) answers.push([t + page, { ip: gateway, status: 200 }]);
      if (user % 15 === 0) {
        answers.push([t + 5, { ip: gateway, status: 401, method: "POST", url: "/login" }]);
        answers.push([t + 6, { ip: gateway, status: 200, method: "POST", url: "/login" }]);
      }
    }
    return answers;
  };
  const run = async (f: ResponseStatusInstance, answers: [number, Answer][]) => {
    const events: string[] = [];
    for (const [t, answer] of answers) events.push(...await respond(f, t, answer));
    return events;
  };
  const shared = rule({ count: 3, window: 600, min_share: 0.3 });
  assert.deepEqual(await run(responseStatus(config(shared)), nat()), []);
  // The same four failures from a source that does nothing else: 100 % of its requests.
  const attacker = nat()
    .filter(([, a]) => a.status === 401)
    .map(([t, a]): [number, Answer] => [t, { ...a, ip: "203.0.113.66" }]);
  assert.deepEqual(await run(responseStatus(config(shared)), attacker), [
    "status_auth",
    "status_auth",
  ]);
  // Without the share the gateway would have been taken for one.
  assert.deepEqual(
    await run(responseStatus(config({ ...shared, min_share: 0 })), nat()),
    ["status_auth", "status_auth"],
  );
});

Deno.test("responseStatus() counts only its scope: method, path without query, minus unless flags", async () => {
  const f = responseStatus(config(
    rule({ name: "login", method: "POST", path: "^/login$", unless: ["static"], count: 2 }),
  ));
  const out = [
    ...await hits(f, [T0], { method: "GET", url: "/login" }),
    ...await hits(f, [T0], { method: "POST", url: "/logout" }),
    ...await hits(f, [T0], { method: "POST", url: "/login", flags: { static: true } }),
    ...await hits(f, [T0], { method: "POST", url: "/login", flags: { static: false } }),
    ...await hits(f, [T0], { method: "POST", url: "/login?next=/x" }),
  ];
  assert.deepEqual(out, [false, false, false, false, true]);
  assert.equal(f.counters().failures, 2);
  assert.equal(f.counters().responses, 5, "every completed response is looked at");
  assert.deepEqual(await respond(f, T0, { method: "POST", url: "/login" }), ["status_login"]);
});

Deno.test("responseStatus() counts completed records only, and each request once", async () => {
  const f = responseStatus(config(rule({ count: 2 })));
  // The before-half (req_type 0) of a request: its status, if any, is not the answer.
  assert.deepEqual(await respond(f, T0, { id: "r1", phase: "first", reqType: 0 }), []);
  assert.deepEqual(await respond(f, T0, { id: "r1", phase: "first", reqType: 0, status: 0 }), []);
  // A record with no status (the proxy gave up before the upstream answered).
  assert.deepEqual(await respond(f, T0, { phase: "response", status: 0 }), []);
  assert.deepEqual(f.counters(), { responses: 0, failures: 0, events: 0, shared: 0, fallback: 0 });
  // The after-half of r1 completes it: counted once.
  assert.deepEqual(await respond(f, T0, { id: "r1", phase: "response" }), []);
  assert.equal(f.counters().failures, 1);
  // A whole record in one message (a log line, or a proxy sending only the after-half).
  assert.deepEqual(await respond(f, T0, { phase: "first", reqType: 1 }), ["status_auth"]);
  assert.deepEqual(f.counters(), { responses: 2, failures: 2, events: 1, shared: 0, fallback: 0 });
});

Deno.test("responseStatus() counts an IPv6 client as its /ipv6_prefix network", async () => {
  const f = responseStatus(config(rule({ count: 4 })));
  const rotating = ["2001:db8:a:b::1", "2001:db8:a:b::2", "2001:db8:a:b:ffff::9"];
  for (const ip of rotating) assert.deepEqual(await respond(f, T0, { ip }), []);
  assert.deepEqual(await respond(f, T0, { ip: "2001:db8:a:c::1" }), [], "another /64");
  assert.deepEqual(await respond(f, T0, { ip: "2001:db8:a:b:1:2:3:4" }), ["status_auth"]);
  assert.equal(f.stats().keys, 2);
  // ipv6_prefix 128: each address is its own source.
  const exact = responseStatus({ ...config(rule({ count: 2 })), ipv6_prefix: 128 });
  assert.deepEqual(await hits(exact, [T0, T0], { ip: "2001:db8::1" }), [false, true]);
  assert.deepEqual(await respond(exact, T0, { ip: "2001:db8::2" }), []);
});

Deno.test("responseStatus() rejects duplicate rule names and bad paths at build time", () => {
  assert.throws(() => responseStatus(config(rule(), rule())), {
    name: "TypeError",
    message: /rules has "auth" twice/,
  });
  assert.throws(
    () => responseStatus(config(rule(), rule({ name: "login", path: "(" }))),
    { name: "SyntaxError", message: /rules\[1\] "login": path/ },
  );
  assert.throws(
    () => responseStatus({ ...config(rule()), backend: "memcached" }),
    { name: "TypeError", message: /needs "servers"/ },
  );
  assert.throws(
    () => responseStatus({ ...config(rule()), backend: "memcached", servers: ["127.0.0.1:1"] }),
    { name: "TypeError", message: /backend memcached has no store here/ },
  );
});

Deno.test("responseStatus() sweep drops sources idle for two windows", async () => {
  const f = responseStatus(config(rule({ window: 60 }), rule({ name: "long", window: 600 })));
  await respond(f, T0, { ip: "203.0.113.1" });
  await respond(f, T0 + 100, { ip: "203.0.113.2" });
  assert.equal(f.stats().keys, 4, "two sources in two rules");
  f.sweep!((T0 + 119) * 1000);
  assert.equal(f.stats().keys, 4, "119 s idle < 2 × 60 s");
  f.sweep!((T0 + 120) * 1000);
  assert.equal(f.stats().keys, 3, ".1 left the 60 s rule");
  f.sweep!((T0 + 1300) * 1000);
  assert.equal(f.stats().keys, 0);
  assert.equal(f.stats().bytes, 0, "a sweep that empties a rule's table drops it");
  // Counting starts over as for a new instance.
  for (let i = 0; i < 5; i++) await respond(f, T0 + 1300);
  assert.equal(f.stats().keys, 2);
});

Deno.test("responseStatus() instances of one configuration share its rules, not their counts", async () => {
  const shared = config(rule({ count: 2 }));
  const a = responseStatus(shared);
  const b = responseStatus(shared);
  assert.deepEqual(await respond(a, T0), []);
  assert.deepEqual(await respond(a, T0 + 1), ["status_auth"]);
  assert.deepEqual(await respond(b, T0 + 2), [], "b counts its own failures");
  assert.deepEqual(b.stats().keys, 1);
  // A configuration with a broken rule still fails at build, every time.
  const bad = config(rule({ path: "(" }));
  assert.throws(() => responseStatus(bad), SyntaxError);
  assert.throws(() => responseStatus(bad), SyntaxError);
});

Deno.test("responseStatus() stats() sizes its state and counters() counts responses", async () => {
  const f = responseStatus(config(rule({ min_share: 0.5 }), rule({ name: "nf", status: [404] })));
  assert.deepEqual(f.stats(), { keys: 0, bytes: 0 }, "no table before a rule counts a source");
  // A success creates an entry only in the rule with a share to keep.
  await respond(f, T0, { status: 200 });
  assert.equal(f.stats().keys, 1);
  const one = f.stats().bytes;
  assert.ok(one > 0, "one rule's table");
  for (let i = 0; i < 200; i++) await respond(f, T0, { ip: `203.0.113.${i}`, status: 404 });
  // Every source in the share rule's scope (.7 already was), the failing ones in nf.
  assert.equal(f.stats().keys, 400);
  assert.ok(f.stats().bytes > one, "tables grew");
  assert.deepEqual(f.counters(), {
    responses: 201,
    failures: 200,
    events: 0,
    shared: 0,
    fallback: 0,
  });
  await f.close!();
  assert.equal(f.stats().keys, 0);
});

Deno.test("responseStatus() default rules ban a credential stuffer within 5 s, not a user or crawler", async () => {
  const defaults = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf").response_status;
  assert.equal(defaults.backend, "local");
  const random = seededRandom(7);
  // 2 POST/s to the login form, 95 % answered 401.
  const stuffer = responseStatus(defaults);
  let first = -1;
  for (let i = 0; i < 20 && first < 0; i++) {
    const t = T0 + i / 2;
    const events = await respond(stuffer, t, {
      ip: "203.0.113.9",
      method: "POST",
      url: "/login",
      status: random() < 0.95 ? 401 : 200,
    });
    if (events.includes("status_auth")) first = t - T0;
  }
  assert.ok(first >= 0 && first <= 5, `banned after ${first} s`);

  // A user who mistypes twice, then logs in and browses for ten minutes.
  const user = responseStatus(defaults);
  const userEvents: string[] = [];
  const login = { ip: "203.0.113.10", method: "POST", url: "/login" };
  userEvents.push(...await respond(user, T0, { ...login, status: 401 }));
  userEvents.push(...await respond(user, T0 + 8, { ...login, status: 401 }));
  userEvents.push(...await respond(user, T0 + 15, { ...login, status: 302 }));
  for (let i = 0; i < 120; i++) {
    userEvents.push(...await respond(user, T0 + 20 + i * 5, { ip: login.ip, status: 200 }));
  }
  assert.deepEqual(userEvents, []);

  // A crawler at 5 req/s for ten minutes, 3 % of its requests for pages that are gone.
  const crawler = responseStatus(defaults);
  const crawlerEvents: string[] = [];
  let missing = 0;
  for (let i = 0; i < 3000; i++) {
    const status = random() < 0.03 ? 404 : 200;
    if (status === 404) missing++;
    crawlerEvents.push(
      ...await respond(crawler, T0 + i / 5, { ip: "203.0.113.11", url: `/p/${i}`, status }),
    );
  }
  assert.ok(missing >= 60, `${missing} 404s`);
  assert.deepEqual(crawlerEvents, []);
});

// ---- Backend memcached --------------------------------------------------------------------

function sharedConfig(server: string, ...rules: StatusRule[]): ResponseStatusConfig {
  return { ...config(...rules), backend: "memcached", servers: [server], timeout_ms: 2000 };
}

/** A scripted store: `incr`/`get`/`add` answered by `answer`, or left hanging. */
function fakeStore(answer: "hang" | "error"): SharedStore & { calls: number } {
  const reply = <T>(): Promise<T> => {
    store.calls++;
    return answer === "hang"
      ? new Promise<T>(() => {})
      : Promise.reject(new Error("memcached 127.0.0.1:1: SERVER_ERROR out of memory"));
  };
  const store = {
    server: "127.0.0.1:1",
    state: "up" as const,
    calls: 0,
    get: () => reply<string | null>(),
    gets: () => reply<null>(),
    add: () => reply<boolean>(),
    cas: () => reply<"STORED">(),
    incr: () => reply<number | null>(),
    ready: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return store;
}

Deno.test("counterKey() stays a valid memcached key: long or odd sources are hashed", () => {
  assert.equal(sourceToken("203.0.113.7"), "203.0.113.7");
  assert.equal(sourceToken("2001:db8:a:b::/64"), "2001:db8:a:b::/64");
  const long = sourceToken("x".repeat(300));
  assert.match(long, /^#[0-9a-f]{16}$/);
  assert.notEqual(sourceToken("x".repeat(301)), long);
  assert.match(sourceToken("fe80::1%eth0 spoofed"), /^#[0-9a-f]{16}$/);
  const widest = counterKey(4294967295, "n".repeat(64), 86400, 4294967295, "f", long);
  assert.ok(widest.length <= 250, `${widest.length} bytes`);
  assert.match(
    counterKey(4294967295, "n".repeat(64), 86400, 4294967295, "n", "a".repeat(64)),
    /^[\x21-\x7e]{1,250}$/,
  );
});

Deno.test("responseStatus() decides locally when memcached answers with errors", async () => {
  const logs: string[] = [];
  const deps: FilterDeps = {
    log: (_level, msg) => logs.push(msg),
    sharedStore: () => fakeStore("error"),
  };
  const f = responseStatus(sharedConfig("127.0.0.1:1", rule({ count: 3 })), deps);
  assert.deepEqual(await hits(f, [T0, T0, T0]), [false, false, true]);
  assert.equal(f.counters().fallback, 3);
  assert.equal(f.counters().shared, 0);
  assert.ok(logs.some((l) => l.includes("counting locally")));
});

Deno.test("responseStatus() bounds the memcached counts in flight, then counts locally at once", () => {
  const store = fakeStore("hang");
  const f = responseStatus(
    sharedConfig("127.0.0.1:1", rule({ count: 2, min_share: 0.5 })),
    { sharedStore: () => store },
  );
  // Successes are counted in the background: run never waits for them.
  for (let i = 0; i < MAX_SHARED_IN_FLIGHT; i++) {
    const record = rec({ ip: "203.0.113.5", status: 200, req_type: 1 });
    assert.equal(f.run(record, ctxFor(record, T0 * 1000, "response")), undefined);
  }
  assert.equal(f.counters().fallback, 0);
  // The store never answered: further counts are local, decided without waiting.
  const attacker = rec({ ip: "203.0.113.6", status: 401, req_type: 1 });
  for (let i = 0; i < 2; i++) {
    const ctx = ctxFor(attacker, T0 * 1000, "response");
    assert.equal(f.run(attacker, ctx), undefined);
    assert.deepEqual(ctx.events, i === 1 ? ["status_auth"] : []);
  }
  assert.equal(f.counters().fallback, 2);
});

const mcMissing = memcachedMissing();
if (mcMissing) console.warn(mcMissing);

Deno.test({
  name: "responseStatus() instances sharing a real memcached count failures together",
  ignore: mcMissing !== undefined,
  async fn() {
    const mc = await startMemcached();
    const rules = [
      rule({ name: "auth", count: 6, window: 60 }),
      rule({ name: "share", status: [403], path: "^/admin", count: 3, min_share: 0.5 }),
      rule({ name: "burst", status: [429], count: 30 }),
    ];
    const a = responseStatus(sharedConfig(mc.server, ...rules), { sharedStore: memcachedStore() });
    const b = responseStatus(sharedConfig(mc.server, ...rules), { sharedStore: memcachedStore() });
    const reader = new MemcachedClient({ server: mc.server, timeoutMs: 2000 });
    try {
      await Promise.all([a.ready(), b.ready(), reader.ready()]);
      // Six failures, alternately through each: the sixth (b's third) reaches the count.
      const got: boolean[] = [];
      for (let i = 0; i < 6; i++) got.push(...await hits(i % 2 ? b : a, [T0 + i]));
      assert.deepEqual(got, [false, false, false, false, false, true]);
      // Either alone saw three and would not have emitted.
      const alone = responseStatus(config(...rules));
      assert.deepEqual(await hits(alone, [T0, T0 + 1, T0 + 2]), [false, false, false]);
      assert.deepEqual([a.counters().shared, b.counters().shared], [3, 3]);
      assert.equal(a.counters().fallback + b.counters().fallback, 0);
      const key = (w: number, kind: "f" | "n", source: string) =>
        counterKey(8984, "auth", 60, w, kind, sourceToken(source));
      assert.equal(await reader.get(key(T0 / 60, "f", "203.0.113.7")), "6");

      // The previous window is read from memcached too: a third sensor with nothing of its
      // own, a quarter into the next window (overlap 0.75), has 6 × 0.75 = 4.5 behind it.
      const c = responseStatus(sharedConfig(mc.server, ...rules), {
        sharedStore: memcachedStore(),
      });
      await c.ready();
      assert.deepEqual(await hits(c, [T0 + 75, T0 + 75]), [false, true], "1 + 4.5, 2 + 4.5");
      await c.close!();

      // min_share over the merged stream: a sees a source's 20 successes, b its 4 failures.
      const nat = { ip: "198.51.100.1", url: "/admin" };
      for (let i = 0; i < 20; i++) await respond(a, T0 + i, { ...nat, status: 200 });
      await a.settled();
      assert.equal(
        await reader.get(counterKey(8984, "share", 60, T0 / 60, "n", "198.51.100.1")),
        "20",
      );
      assert.deepEqual(
        await hits(b, [T0 + 30, T0 + 31, T0 + 32, T0 + 33], { ...nat, status: 403 }),
        [
          false,
          false,
          false,
          false,
        ],
      );
      // b alone would have taken it for an attacker (4 of 4 failed).
      assert.deepEqual(
        await hits(responseStatus(config(...rules)), [T0, T0, T0], { ...nat, status: 403 }),
        [false, false, true],
      );

      // 40 concurrent failures from both race on incr/add for a new key: each counts exactly
      // once, so exactly the 30th to 40th reach the count (neither saw 30 on its own).
      const burst = await Promise.all(
        Array.from(
          { length: 40 },
          (_, i) => respond(i % 2 ? a : b, T0 + 200, { ip: "203.0.113.99", status: 429 }),
        ),
      );
      assert.equal(burst.filter((events) => events.length > 0).length, 11);
      const window = Math.floor((T0 + 200) / 60);
      assert.equal(
        await reader.get(counterKey(8984, "burst", 60, window, "f", "203.0.113.99")),
        "40",
      );
      assert.equal(a.counters().fallback + b.counters().fallback, 0);
    } finally {
      await a.close!();
      await b.close!();
      await reader.close();
      await mc.stop();
    }
  },
});

Deno.test({
  name: "responseStatus() counts locally, warm from the shared counts, once memcached dies",
  ignore: mcMissing !== undefined,
  async fn() {
    const mc = await startMemcached();
    const logs: string[] = [];
    const deps = (): FilterDeps => ({
      log: (_level, msg) => logs.push(msg),
      sharedStore: memcachedStore(),
    });
    const a = responseStatus(sharedConfig(mc.server, rule({ count: 4 })), deps());
    const b = responseStatus(sharedConfig(mc.server, rule({ count: 4 })), deps());
    try {
      await Promise.all([a.ready(), b.ready()]);
      assert.deepEqual(await hits(a, [T0]), [false]);
      assert.deepEqual(await hits(b, [T0 + 1]), [false]);
      assert.deepEqual(await hits(a, [T0 + 2]), [false]);
      assert.equal(a.counters().shared + b.counters().shared, 3);

      await mc.stop();
      // a had seen 3 shared failures (2 its own): one more locally reaches 4.
      assert.deepEqual(await hits(a, [T0 + 3]), [true]);
      // Now the client knows it is down: decided at once, without a promise.
      const record = rec({ ip: "203.0.113.7", status: 401, req_type: 1 });
      const ctx = ctxFor(record, (T0 + 4) * 1000, "response");
      assert.equal(a.run(record, ctx), undefined);
      assert.deepEqual(ctx.events, ["status_auth"]);
      // b had seen 2 shared failures: it needs two more of its own.
      assert.deepEqual(await hits(b, [T0 + 5, T0 + 6]), [false, true]);
      assert.equal(a.counters().fallback, 2);
      assert.equal(b.counters().fallback, 2);
      assert.ok(logs.some((l) => l.includes("memcached unavailable, counting locally")));
    } finally {
      await a.close!();
      await b.close!();
      await mc.stop();
    }
  },
});

Deno.test("responseStatus() decides locally at once while memcached hangs", async () => {
  // A server that accepts connections and never answers: the first failure waits timeout_ms,
  // then the client is marked down and later ones do not wait at all.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const f = responseStatus({
    ...config(rule({ count: 2 })),
    backend: "memcached",
    servers: [`127.0.0.1:${(listener.addr as Deno.NetAddr).port}`],
    timeout_ms: 30,
  }, { sharedStore: memcachedStore() });
  try {
    await f.ready();
    assert.deepEqual(await hits(f, [T0]), [false]);
    assert.equal(f.counters().fallback, 1);
    const record = rec({ ip: "203.0.113.7", status: 401, req_type: 1 });
    const ctx = ctxFor(record, T0 * 1000, "response");
    assert.equal(f.run(record, ctx), undefined, "synchronous: nothing to wait for");
    assert.deepEqual(ctx.events, ["status_auth"]);
    assert.equal(f.counters().fallback, 2);
  } finally {
    await f.close!();
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});
