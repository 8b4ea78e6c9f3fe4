import assert from "node:assert/strict";
import { lua, type LuaFilters } from "../../../src/sensor/filters/lua.ts";
import type { LuaConfig } from "../../../src/shared/config/components.ts";
import type { HttpRecord } from "../../../src/sensor/wire/record.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";

function config(...files: string[]): LuaConfig {
  return {
    enabled: true,
    skip_if: [],
    scripts: files.map((file) => ({ file })),
    instruction_budget: 100_000,
    memory_limit_mb: 64,
  };
}

/** Builds the filter with scripts given by name → source (as components_config_dir). */
function withScripts(scripts: Record<string, string>, cfg?: Partial<LuaConfig>) {
  const logs: string[] = [];
  return {
    logs,
    build: () =>
      lua({ ...config(...Object.keys(scripts)), ...cfg }, {
        readFile(name) {
          const source = scripts[name];
          if (source === undefined) return Promise.reject(new Deno.errors.NotFound(name));
          return Promise.resolve(source);
        },
        log: (_level, msg) => logs.push(msg),
      }),
  };
}

/** Runs both phases on a record; returns the context. */
function both(f: LuaFilters, record: HttpRecord, now = 0, flags: Record<string, boolean> = {}) {
  const ctx = ctxFor(record, now, "first", flags);
  f.allow.run(record, ctx);
  f.deny.run(record, ctx);
  return ctx;
}

Deno.test("lua() default.lua: health checks from private addresses are whitelisted", async () => {
  const f = await lua(config("default.lua"));
  try {
    assert.equal(both(f, rec({ url: "/healthz", ip: "127.0.0.1" })).flags.get("whitelisted"), true);
    assert.equal(both(f, rec({ url: "/health?x", ip: "10.1.2.3" })).flags.get("whitelisted"), true);
    assert.equal(both(f, rec({ url: "/healthz", ip: "8.8.8.8" })).flags.has("whitelisted"), false);
    assert.equal(
      both(f, rec({ url: "/healthz", method: "POST", ip: "10.0.0.1" })).flags.has("whitelisted"),
      false,
    );
    assert.equal(both(f, rec({ url: "/", ip: "127.0.0.1" })).flags.has("whitelisted"), false);
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() default.lua: non-standard methods emit lua_bad_method", async () => {
  const f = await lua(config("default.lua"));
  try {
    assert.deepEqual(both(f, rec({ method: "TRACE" })).events, ["lua_bad_method"]);
    assert.deepEqual(both(f, rec({ method: "PROPFIND" })).events, ["lua_bad_method"]);
    for (const method of ["GET", "POST", "HEAD", "OPTIONS", ""]) {
      assert.deepEqual(both(f, rec({ method })).events, [], method);
    }
    assert.deepEqual(f.functions().map((i) => i.name), ["allow_health_check", "deny_bad_method"]);
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() exposes wire fields, headers, flags and the qts helpers", async () => {
  const { build } = withScripts({
    "t.lua": `
      function deny_fields(req)
        local checks = { req.url == "/aa/42", req.method == "PUT", req.host == "h.example",
          req.http_user_agent == "UA ✓", req.remote_addr == "2001:db8::7", req.status == 204,
          req.domain_id == 8984, req.headers["x-test"] == "yes", req.headers.host == "h.example",
          req.flags.static == nil, req.flags.from_lua == true, qts.has_flag("static") == false,
          qts.has_flag("from_lua"), qts.match("^/a+/[0-9]{2}$", req.url) == true,
          qts.match("^/b", req.url) == false, req["acc" .. "ept"] == nil,
          req["geo"] == "US" }
        for i = 1, 17 do
          if not checks[i] then return "lua_fail_" .. i end
        end
        return "lua_fields_ok"
      end
      function allow_marks(req)
        qts.set_flag("from_lua")
        qts.set_flag("static", false)
        return false
      end
    `,
  });
  const f = await build();
  try {
    const record = rec({
      url: "/aa/42",
      method: "PUT",
      host: "h.example",
      http_user_agent: "UA ✓",
      status: 204,
      headers: "Host: h.example\r\nX-Test:  yes \r\n",
      geo: "US",
      ip: "2001:db8::7",
    });
    const ctx = both(f, record, 0, { static: true });
    assert.equal(ctx.flags.get("from_lua"), true);
    assert.equal(ctx.flags.get("static"), false);
    // deny ran after allow changed the flags: req.flags reflects the current ones; "accept" is
    // named by no script, so it is not pushed.
    assert.deepEqual(ctx.events, ["lua_fields_ok"]);
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() a returned string is the event name; invalid names are replaced", async () => {
  const { build } = withScripts({
    "t.lua": `
      function deny_a(req) if req.url == "/x" then return "lua_custom" end end
      function deny_b(req) if req.url == "/y" then return "bad name!" end end
    `,
  });
  const f = await build();
  try {
    assert.deepEqual(both(f, rec({ url: "/x" })).events, ["lua_custom"]);
    assert.deepEqual(both(f, rec({ url: "/y" })).events, ["lua_invalid_event"]);
    assert.deepEqual(both(f, rec({ url: "/z" })).events, []);
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() contains an endless loop, then skips that function; others keep working", async () => {
  const { build, logs } = withScripts({
    "loop.lua": `
      function deny_loop(req) if req.url == "/loop" then while true do end end end
      function deny_sneaky(req)
        if req.url == "/sneaky" then while true do pcall(function() while true do end end) end end
      end
      function deny_handler(req)
        if req.url == "/handler" then
          while true do
            xpcall(function() while true do end end, function() while true do end end)
          end
        end
      end
      function deny_gsub(req)
        if req.url == "/gsub" then
          local s = ("x"):rep(1000)
          while true do s:gsub(".", function(c) return c end) end
        end
      end
      function deny_ok(req) return req.url == "/bad" end
    `,
  });
  const f = await build();
  try {
    for (let i = 0; i < 10; i++) {
      const ctx = both(f, rec({ url: "/loop" }), i);
      assert.deepEqual(ctx.events, [], "fail-open");
    }
    const c = f.counters();
    assert.equal(c.budget, 3, "stopped three times, then skipped for a minute");
    assert.equal(c.disabled, 1);
    assert.deepEqual(both(f, rec({ url: "/bad" }), 20).events, ["lua_ok"]);
    for (let i = 0; i < 3; i++) both(f, rec({ url: "/sneaky" }), 30 + i);
    assert.equal(f.counters().budget, 6, "pcall cannot swallow the budget error");
    assert.equal(f.counters().disabled, 2);
    both(f, rec({ url: "/handler" }), 40);
    both(f, rec({ url: "/gsub" }), 41);
    assert.equal(f.counters().budget, 8, "nor can an xpcall handler or a gsub callback");
    // A minute of event time later the function is tried again.
    both(f, rec({ url: "/loop" }), 70_000);
    assert.equal(f.counters().budget, 9);
    assert.ok(logs.some((l) => l.includes("loop.lua:deny_loop")));
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() contains a 1 GB allocation, an unbounded table and slow instructions", async () => {
  const { build } = withScripts({
    "mem.lua": `
      function deny_big(req)
        if req.url == "/big" then local s = string.rep("x", 1024 * 1024 * 1024) return #s > 0 end
      end
      function deny_grow(req)
        if req.url == "/grow" then
          local t = {}
          for i = 1, 1e9 do t[i] = ("y"):rep(1024 * 1024) .. i end
        end
      end
      function deny_slow(req)
        if req.url == "/slow" then
          for i = 1, 1e6 do local s = ("z"):rep(2 * 1024 * 1024) end
        end
      end
      function deny_ok(req) return req.url == "/after" end
    `,
  }, { instruction_budget: 10_000_000, memory_limit_mb: 16 });
  const f = await build();
  try {
    assert.deepEqual(both(f, rec({ url: "/big" })).events, []);
    assert.equal(f.counters().memory, 1, "1 GB in one instruction: the memory limit");
    // The growing table meets the memory limit or, on a slow machine, the 250 ms clock first.
    assert.deepEqual(both(f, rec({ url: "/grow" })).events, []);
    assert.equal(f.counters().memory + f.counters().budget, 2);
    // Few instructions, each slow (2 MiB copies): stopped by the 250 ms clock, not the count.
    assert.deepEqual(both(f, rec({ url: "/slow" })).events, []);
    assert.equal(f.counters().memory + f.counters().budget, 3);
    assert.deepEqual(both(f, rec({ url: "/after" })).events, ["lua_ok"]);
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() refuses Lua patterns whose worst case on the subject is too slow", async () => {
  const { build } = withScripts({
    "patterns.lua": `
      function deny_fine(req)
        return req.url:find("^/api/v%d+/users/%d+$") ~= nil and req.headers.host ~= nil
      end
      function deny_evil(req)
        return string.find(req.body, "a*a*a*a*a*b") ~= nil
      end
      function deny_evil_method(req)
        return req.body:match("(.-)(.-)(.-)x") ~= nil
      end
      function deny_plain(req)
        return req.body:find("a*a*a*b", 1, true) ~= nil
      end
    `,
  });
  const f = await build();
  try {
    const body = "a".repeat(20_000);
    const headers = "Host: x\r\nCookie: " + " ".repeat(8000) + "z\r\n";
    const ctx = both(f, rec({ url: "/api/v2/users/42", body, headers }));
    assert.deepEqual(ctx.events, ["lua_fine"], "plain find and a short anchored pattern run");
    assert.equal(f.counters().error, 2, "both costly patterns refused with an error");
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() sandbox: no os, io, require, load, debug, string.dump or bytecode", async () => {
  const probes = [
    `os.execute("touch /tmp/qts-pwned")`,
    `io.open("/etc/passwd")`,
    `require("os")`,
    `load("return 1")()`,
    `dofile("/etc/passwd")`,
    `loadfile("/etc/passwd")`,
    `debug.sethook()`,
    `package.loadlib("x", "y")`,
    `string.dump(function() end)`,
    `(""):dump()`,
    `coroutine.create(function() end)`,
    `collectgarbage("stop")`,
    `getmetatable("").__index = {}`,
    `setmetatable({}, { __gc = function() while true do end end })`,
  ];
  const { build } = withScripts({
    "escape.lua": probes.map((p, i) => `function deny_p${i}(req) ${p} return "escaped_${i}" end`)
      .join("\n"),
  });
  const f = await build();
  try {
    const ctx = both(f, rec());
    assert.deepEqual(ctx.events, [], "every probe raised an error");
    assert.equal(f.counters().error, probes.length);
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() rejects broken scripts at build time, naming the file", async () => {
  await assert.rejects(withScripts({ "bad.lua": "function (" }).build(), SyntaxError);
  await assert.rejects(withScripts({ "top.lua": "while true do end" }).build(), /top\.lua.*budget/);
  await assert.rejects(withScripts({ "err.lua": "error('boom')" }).build(), /err\.lua.*boom/);
  await assert.rejects(lua(config("missing.lua")), /missing\.lua/);
  await assert.rejects(lua(config("../etc.lua")), /plain name/);
  const bytecode = "\x1bLua\x54\x00";
  await assert.rejects(withScripts({ "bc.lua": bytecode }).build(), /bc\.lua/);
});

Deno.test("lua() reads components_config_dir first, then the embedded scripts", async () => {
  const { build } = withScripts({ "default.lua": `function deny_mine(req) return true end` });
  const f = await build();
  try {
    assert.deepEqual(both(f, rec()).events, ["lua_mine"]);
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() ignores response-phase records and keeps allow before deny state apart", async () => {
  const f = await lua(config("default.lua"));
  try {
    const record = rec({ method: "TRACE" });
    const ctx = ctxFor(record, 0, "response");
    f.allow.run(record, ctx);
    f.deny.run(record, ctx);
    assert.deepEqual(ctx.events, []);
    // deny alone (allow skipped by skip_if) still sees this record's fields.
    both(f, rec({ method: "GET" }));
    const only = rec({ method: "TRACK" });
    const c2 = ctxFor(only, 1);
    f.deny.run(only, c2);
    assert.deepEqual(c2.events, ["lua_bad_method"]);
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() bounds a state's memory across calls: a leaking script is reset, requests go on", async () => {
  const mb = 1024 * 1024;
  const { build, logs } = withScripts({
    "leak.lua": `
      kept = {}
      function deny_leak(req)
        kept[#kept + 1] = string.rep("x", 256 * 1024) .. req.url
        return "lua_kept_" .. #kept
      end
      function deny_other(req) return req.url == "/other" end
    `,
  }, { memory_limit_mb: 4 });
  const f = await build();
  try {
    let maxState = 0;
    let decided = 0;
    const heapBefore = f.memory().heap;
    let heapAfterFirstReset = 0;
    for (let i = 0; i < 400; i++) {
      // 10 s of event time a request: resets stay under 3 a minute, so the function is never
      // skipped and each request shows whether it was decided.
      const ctx = both(f, rec({ url: i % 100 === 0 ? "/other" : "/p" }), i * 10_000);
      if (ctx.events.some((e) => e.startsWith("lua_kept_"))) decided++;
      if (i % 100 === 0) assert.ok(ctx.events.includes("lua_other"), `request ${i}`);
      maxState = Math.max(maxState, f.memory().state);
      if (f.counters().resets === 1 && heapAfterFirstReset === 0) {
        heapAfterFirstReset = f.memory().heap;
      }
    }
    const { resets, memory } = f.counters();
    const heap = f.memory().heap;
    console.log(
      `  400 requests × 256 KiB kept, limit 4 MiB: ${resets} resets, state max ` +
        `${(maxState / mb).toFixed(1)} MiB, wasm heap ${(heapBefore / mb).toFixed(0)} → ` +
        `${(heapAfterFirstReset / mb).toFixed(0)} (first reset) → ${(heap / mb).toFixed(0)} MiB, ` +
        `${decided} requests decided by deny_leak`,
    );
    assert.ok(resets >= 20, `${resets} resets`);
    assert.equal(memory, resets, "each reset follows a refused allocation");
    assert.ok(maxState < 6 * mb, `state ${maxState} bytes`);
    // The freed states' memory is reused: the heap stops growing after the first reset.
    assert.ok(heap <= heapAfterFirstReset + 4 * mb, `heap ${heap} after ${heapAfterFirstReset}`);
    assert.ok(decided >= 400 - resets, `${decided} decided`);
    assert.ok(logs.some((l) => l.includes("reset")));
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() resets keep skipped functions skipped and globals start over", async () => {
  const { build } = withScripts({
    "t.lua": `
      n = 0
      function deny_count(req) n = n + 1 return "lua_n_" .. n end
      function deny_loop(req) if req.url == "/loop" then while true do end end end
      function deny_big(req) if req.url == "/big" then return #string.rep("x", 64 * 1024 * 1024) > 0 end end
    `,
  }, { memory_limit_mb: 8 });
  const f = await build();
  try {
    for (let i = 0; i < 3; i++) both(f, rec({ url: "/loop" }), i);
    assert.equal(f.counters().disabled, 1);
    assert.deepEqual(both(f, rec({ url: "/a" }), 10).events, ["lua_n_4"]);
    assert.deepEqual(both(f, rec({ url: "/big" }), 11).events, ["lua_n_5"]);
    assert.equal(f.counters().resets, 1);
    assert.deepEqual(both(f, rec({ url: "/a" }), 12).events, ["lua_n_1"], "a fresh state");
    both(f, rec({ url: "/loop" }), 13);
    assert.equal(f.counters().budget, 3, "deny_loop is still skipped in the new state");
  } finally {
    f.allow.close!();
  }
});

Deno.test("lua() close() frees the state: a replacing filter reuses its memory", async () => {
  const mb = 1024 * 1024;
  const script = {
    "fill.lua": `
      kept = {}
      function deny_fill(req)
        kept[#kept + 1] = string.rep("y", 1024 * 1024) .. #kept
      end
    `,
  };
  let heap = 0;
  for (let round = 0; round < 6; round++) {
    const f = await withScripts(script, { memory_limit_mb: 32 }).build();
    // 1 MiB a call, so no single call nears the wall-clock cap on a loaded machine.
    for (let i = 0; i < 13; i++) both(f, rec(), round * 100 + i);
    assert.ok(f.memory().state > 12 * mb, `state ${f.memory().state}`);
    if (round === 1) heap = f.memory().heap;
    if (round > 1) assert.ok(f.memory().heap <= heap + 2 * mb, `round ${round}: heap grew`);
    f.allow.close!();
    f.deny.close!();
    assert.deepEqual(f.memory(), { state: 0, heap: 0 });
    assert.deepEqual(both(f, rec(), round).events, [], "a closed filter lets requests through");
  }
});
