import assert from "node:assert/strict";
import { lua } from "../../../src/sensor/filters/lua.ts";
import type { LuaConfig } from "../../../src/shared/config/components.ts";
import type { HttpRecord } from "../../../src/sensor/wire/record.ts";
import type { RequestContext } from "../../../src/sensor/filters/types.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";

const DEFAULT = await Deno.readTextFile(
  new URL("../../../config/lua/default.lua", import.meta.url),
);

function build(scripts: Record<string, string>, cfg: Partial<LuaConfig> = {}) {
  return lua({
    enabled: true,
    skip_if: [],
    scripts: Object.keys(scripts).map((file) => ({ file })),
    instruction_budget: 100_000,
    memory_limit_mb: 64,
    ...cfg,
  }, {
    readFile: (name) =>
      scripts[name] === undefined
        ? Promise.reject(new Deno.errors.NotFound(name))
        : Promise.resolve(scripts[name]!),
  });
}

/** Requests that exercise both default functions on either side of their conditions. */
function mixedRecords(): HttpRecord[] {
  const out: HttpRecord[] = [];
  const methods = ["GET", "HEAD", "POST", "PUT", "TRACE", "PROPFIND", "", "get", "OPTIONS"];
  const urls = [
    "/",
    "/health",
    "/healthz?probe=1",
    "/status",
    "/ping/",
    "/healthcheck",
    "/x?/health",
  ];
  const ips = ["127.0.0.1", "10.1.2.3", "192.168.0.9", "203.0.113.7", "::1", "2001:db8::1"];
  let i = 0;
  for (const method of methods) {
    for (const url of urls) {
      for (const ip of ips) out.push(rec({ method, url, ip, timestamp: i++ }));
    }
  }
  return out;
}

/** The chain's batch path: allow_* for the batch, then each request's deny step. */
function runBatch(f: Awaited<ReturnType<typeof lua>>, records: HttpRecord[]) {
  const ctxs: (RequestContext & { events: string[] })[] = records.map((r) => ctxFor(r, 0));
  f.allow.runBatch!(records, ctxs);
  for (let i = 0; i < records.length; i++) f.deny.run(records[i]!, ctxs[i]!);
  return ctxs.map((c) => ({ flags: [...c.flags].sort(), events: c.events }));
}

Deno.test("qts.when: default.lua decides every request as it does without its promises, with most requests left out of Lua", async () => {
  const without = DEFAULT.split("\n").filter((line) => !line.startsWith("qts.when(")).join("\n");
  assert.notEqual(without, DEFAULT, "default.lua declares qts.when");
  const a = await build({ "default.lua": DEFAULT });
  const b = await build({ "default.lua": without });
  try {
    const records = mixedRecords();
    const got = runBatch(a, records);
    const want = runBatch(b, records);
    assert.deepEqual(got, want);
    // Both outcomes occur, so the comparison says something.
    assert.ok(want.some((r) => r.events.includes("lua_bad_method")));
    assert.ok(want.some((r) => r.flags.some(([name]) => name === "whitelisted")));
    const ca = a.counters();
    const cb = b.counters();
    assert.equal(cb.prefiltered, 0);
    assert.equal(cb.records, records.length);
    assert.equal(ca.records + ca.prefiltered, records.length);
    assert.ok(
      ca.prefiltered > 0 && ca.records > 0,
      `${ca.prefiltered} of ${records.length} left out`,
    );
    assert.equal(ca.deny_alone, 0, "a request left out needs no deny call of its own");
    // Ordinary page views never enter Lua.
    const pages = Array.from({ length: 100 }, (_, i) => rec({ url: `/p/${i}`, ip: "10.0.0.1" }));
    runBatch(a, pages);
    assert.equal(a.counters().records, ca.records);
    assert.equal(a.counters().prefiltered, ca.prefiltered + 100);
    // One request at a time (allow.run) decides the same.
    for (const record of records.slice(0, 60)) {
      const one = ctxFor(record, 0);
      a.allow.run(record, one);
      a.deny.run(record, one);
      const other = ctxFor(record, 0);
      b.allow.run(record, other);
      b.deny.run(record, other);
      assert.deepEqual([[...one.flags].sort(), one.events], [
        [...other.flags].sort(),
        other.events,
      ]);
    }
  } finally {
    a.allow.close!();
    b.allow.close!();
  }
});

Deno.test("qts.when: a function without a promise takes every request into Lua, and every function runs there", async () => {
  const f = await build({
    "a.lua": `
      seen = 0
      function allow_count(req) seen = seen + 1 return false end
      function deny_only_delete(req) return req.method == "DELETE" and "lua_delete" end
      qts.when("deny_only_delete", { methods = { "DELETE" } })
      function deny_seen(req) if req.url == "/seen" then return "seen_" .. seen end end
      qts.when("deny_seen", { path_prefixes = { "/seen" } })
    `,
  });
  try {
    const records = [
      rec({ method: "GET", url: "/a" }),
      rec({ method: "DELETE", url: "/b" }),
      rec({ method: "GET", url: "/seen" }),
    ];
    const got = runBatch(f, records);
    assert.deepEqual(got.map((r) => r.events), [[], ["lua_delete"], ["seen_3"]]);
    assert.equal(f.counters().prefiltered, 0, "allow_count wants every request");
  } finally {
    f.allow.close!();
  }
});

Deno.test("qts.when: promises that cannot hold are refused when the script loads, naming what is wrong", async () => {
  const cases: [string, RegExp][] = [
    [`function deny_x(r) end qts.when("deny_x", { method = { "GET" } })`, /unknown key method/],
    [
      `function deny_x(r) end qts.when("x", { methods = { "GET" } })`,
      /names an allow_\* or deny_\*/,
    ],
    [
      `qts.when("deny_missing", { methods = { "GET" } })`,
      /deny_missing, which the script does not define/,
    ],
    [`function deny_x(r) end qts.when("deny_x", {})`, /condition is empty/],
    [`function deny_x(r) end qts.when("deny_x", { paths = {} })`, /paths is empty/],
    [
      `function deny_x(r) end qts.when("deny_x", { paths = "/a" })`,
      /paths must be a list or a set/,
    ],
    [
      `function deny_x(r) end qts.when("deny_x", { methods = { 1 } })`,
      /not a plain non-empty string/,
    ],
  ];
  for (const [source, message] of cases) {
    await assert.rejects(build({ "bad.lua": source }), (e: Error) => {
      assert.match(e.message, /script "bad\.lua"/);
      assert.match(e.message, message);
      return true;
    }, source);
  }
});

Deno.test("qts.when at request time is an error of that call (fail-open, counted)", async () => {
  const f = await build({
    "late.lua":
      `function deny_late(req) qts.when("deny_late", { methods = { "GET" } }) return true end`,
  });
  try {
    const [r] = runBatch(f, [rec({ method: "GET" })]);
    assert.deepEqual(r!.events, [], "the failing call gives nothing");
    assert.equal(f.counters().error, 1);
  } finally {
    f.allow.close!();
  }
});
