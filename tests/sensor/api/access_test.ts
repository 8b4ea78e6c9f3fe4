/**
 * Issue 17: who may reach the API (Host, Origin, Content-Type), repeated query keys, a restart
 * with a broken domain file, FIFOs beside the configuration, and edited Lua scripts.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createApi } from "../../../src/sensor/api/create_api.ts";
import { Autoreload, isConfigFile, type ReloadKind } from "../../../src/sensor/autoreload.ts";
import { ConfigStore } from "../../../src/shared/config/config_store.ts";
import type { Settings } from "../../../src/shared/config/settings.ts";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import { type ApiFixture, apiFixture, DOMAIN, domainObject } from "./_api_fixture.ts";

/** Everything a refused request must leave alone. */
async function snapshot(f: ApiFixture): Promise<string> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(f.filtersDir)) {
    files.push(`${entry.name}=${await Deno.readTextFile(join(f.filtersDir, entry.name))}`);
  }
  return JSON.stringify({
    domains: f.store.domains(),
    configs: f.store.domains().map((id) => f.store.domainConfig(id)),
    bans: f.lm.bans(DOMAIN),
    sent: f.sent.length,
    files: files.sort(),
  });
}

/** A request through `app`, answered as status and the error object's keys and text. */
async function request(
  app: { request(path: string, init: RequestInit): Response | Promise<Response> },
  path: string,
  init: RequestInit = {},
) {
  const response = await app.request(path, init);
  const body = await response.json() as Record<string, unknown>;
  return { status: response.status, body };
}

/** The fixture's objects behind an API whose settings are `over` the fixture's. */
function apiWith(f: ApiFixture, over: Partial<Settings> & { api_allowed_hosts?: unknown }) {
  const store = new ConfigStore({ ...f.store.settings, ...over } as Settings);
  return createApi({
    store,
    pipeline: f.pipeline,
    lm: f.lm,
    metrics: f.metrics,
    log: silentLogger,
    token: over.api_token ?? "",
    uptime: () => 0,
    actions: f.actions,
  });
}

Deno.test("createApi() answers a foreign Host with 421 on every path, /healthz included (DNS rebinding)", async () => {
  const f = await apiFixture();
  try {
    for (const path of ["/healthz", "/filters", "/ui", "/bans", "/metrics"]) {
      for (const host of ["evil.example:4180", "evil.example", "127.0.0.1.evil.example:4180"]) {
        const r = await request(f.app, path, { headers: { host } });
        assert.equal(r.status, 421, `${path} ${host}`);
        assert.deepEqual(Object.keys(r.body), ["status", "exception"]);
        assert.match(String(r.body.exception), /is not one this API answers to/);
      }
    }
    const before = await snapshot(f);
    const put = await request(f.app, `/filters/${DOMAIN}?rewrite=1`, {
      method: "PUT",
      headers: { host: "rebound.example:4180", "content-type": "application/json" },
      body: JSON.stringify({ many_uas: { max_uas: 1 } }),
    });
    assert.equal(put.status, 421);
    assert.equal(await snapshot(f), before, "a rebound PUT changes nothing");
    // The listen address and the loopback names (as clients on this host and app.request send).
    for (
      const host of [
        "127.0.0.1:4180",
        "localhost:4180",
        "[::1]:4180",
        "LOCALHOST:4180",
        "localhost",
      ]
    ) {
      assert.equal((await request(f.app, "/filters", { headers: { host } })).status, 200, host);
    }
    assert.equal((await request(f.app, "/filters")).status, 200, "app.request() without a Host");
  } finally {
    await f.close();
  }
});

Deno.test("createApi() Host check: a non-loopback listen address, a wildcard one, and api_allowed_hosts", async () => {
  const f = await apiFixture();
  try {
    const auth = { authorization: "Bearer t0ken" };
    const host = (app: ReturnType<typeof apiWith>, name: string) =>
      request(app, "/filters", { headers: { host: name, ...auth } }).then((r) => r.status);

    const lan = apiWith(f, { api_server_host: "192.0.2.10", api_token: "t0ken" });
    assert.equal(await host(lan, "192.0.2.10:4180"), 200);
    assert.equal(await host(lan, "192.0.2.10:4181"), 421, "another port");
    assert.equal(await host(lan, "192.0.2.11:4180"), 421);
    assert.equal(await host(lan, "sensor.example:4180"), 421);

    const any = apiWith(f, { api_server_host: "0.0.0.0", api_token: "t0ken" });
    assert.equal(await host(any, "192.0.2.77:4180"), 200, "any address of the host");
    assert.equal(await host(any, "[2001:db8::7]:4180"), 200);
    assert.equal(await host(any, "localhost:4180"), 200);
    assert.equal(await host(any, "192.0.2.77:80"), 421);
    assert.equal(await host(any, "evil.example:4180"), 421, "a name needs api_allowed_hosts");

    const named = apiWith(f, {
      api_server_host: "0.0.0.0",
      api_token: "t0ken",
      api_allowed_hosts: ["qts.example.net", "ops.example.net:8443"],
    });
    assert.equal(await host(named, "qts.example.net"), 200, "a name without port: any port");
    assert.equal(await host(named, "QTS.example.net:443"), 200);
    assert.equal(await host(named, "ops.example.net:8443"), 200);
    assert.equal(await host(named, "ops.example.net:443"), 421, "a name with port: that port");
    assert.equal(await host(named, "evil.example"), 421);
    // As the INI parser gives it: `api_allowed_hosts = a.example, b.example:9`.
    const text = apiWith(f, { api_allowed_hosts: ["a.example", "b.example:9"] });
    assert.equal(await host(text, "a.example:1"), 200);
    assert.equal(await host(text, "b.example:9"), 200);
    assert.equal(await host(text, "b.example:8"), 421);
  } finally {
    await f.close();
  }
});

Deno.test("createApi() refuses a state change without Content-Type: application/json (415), changing nothing", async () => {
  const f = await apiFixture();
  try {
    const before = await snapshot(f);
    const body = JSON.stringify({ many_uas: { max_uas: 1 } });
    for (
      const type of [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
      ]
    ) {
      for (
        const path of [`/filters/${DOMAIN}?rewrite=1`, `/filters/${DOMAIN}/many_uas?rewrite=1`]
      ) {
        const r = await f.call("PUT", path, body, { "content-type": type });
        assert.equal(r.status, 415, `${type} ${path}`);
        assert.match(String(r.body.exception), /Content-Type: application\/json/);
      }
      // A cross-site form aimed at a body-less endpoint still names its type.
      for (const path of ["/reload_filters", "/reload_components"]) {
        assert.equal((await f.call("POST", path, "", { "content-type": type })).status, 415);
      }
      assert.equal(
        (await f.call("DELETE", `/filters/${DOMAIN}?rewrite=1`, "", { "content-type": type }))
          .status,
        415,
      );
    }
    // A body and no type at all (a hand-rolled client) is refused too.
    const raw = await f.app.request(`/filters/${DOMAIN}`, {
      method: "PUT",
      headers: { "content-length": String(body.length) },
      body: new TextEncoder().encode(body),
    });
    assert.equal(raw.status, 415);
    await raw.body?.cancel();
    assert.equal(await snapshot(f), before);
    // What clients send: JSON bodies, and body-less POST/DELETE without a type.
    assert.equal((await f.call("POST", "/reload_filters")).status, 200);
    const charset = await f.call("PUT", `/filters/${DOMAIN}/many_uas`, '{"max_uas":2}', {
      "content-type": "application/json; charset=utf-8",
    });
    assert.equal(charset.status, 200, JSON.stringify(charset.body));
    assert.equal((await f.call("PUT", `/filters/${DOMAIN}/many_uas`, { max_uas: 3 })).status, 200);
  } finally {
    await f.close();
  }
});

Deno.test("createApi() refuses a state change from a foreign Origin (403), allows its own", async () => {
  const f = await apiFixture();
  try {
    const before = await snapshot(f);
    for (const origin of ["http://evil.example", "null", "http://127.0.0.1:8080", "file://"]) {
      for (
        const [method, path, body] of [
          ["PUT", `/filters/${DOMAIN}/many_uas?rewrite=1`, { max_uas: 1 }],
          ["POST", "/reload_filters", undefined],
          ["DELETE", `/filters/${DOMAIN}?rewrite=1`, undefined],
          ["DELETE", `/bans/${DOMAIN}/198.51.100.9`, undefined],
        ] as const
      ) {
        const r = await f.call(method, path, body, { origin, host: "127.0.0.1:4180" });
        assert.equal(r.status, 403, `${origin} ${method} ${path}`);
        assert.match(String(r.body.exception), /cross-origin request refused/);
      }
    }
    assert.equal(await snapshot(f), before);
    // Reading is not a change (a browser keeps the answer from a foreign page anyway).
    assert.equal(
      (await f.call("GET", "/filters", undefined, { origin: "http://evil.example" })).status,
      200,
    );
    // The API's own page (same host and port) may change things.
    const own = await f.call("PUT", `/filters/${DOMAIN}/many_uas`, { max_uas: 2 }, {
      origin: "http://127.0.0.1:4180",
      host: "127.0.0.1:4180",
    });
    assert.equal(own.status, 200);
  } finally {
    await f.close();
  }
});

Deno.test("createApi() refuses ?rewrite=1&rewrite=0 and any repeated query key with 400, writing nothing", async () => {
  const f = await apiFixture();
  try {
    await Deno.remove(join(f.filtersDir, `${DOMAIN}.json`));
    const before = await snapshot(f);
    for (const query of ["rewrite=1&rewrite=0", "rewrite=0&rewrite=1", "rewrite=1&rewrite=1"]) {
      const put = await f.call("PUT", `/filters/${DOMAIN}?${query}`, domainObject());
      assert.equal(put.status, 400, query);
      assert.match(String(put.body.exception), /"rewrite" given more than once/);
      const component = await f.call("PUT", `/filters/${DOMAIN}/many_uas?${query}`, {
        max_uas: 2,
      });
      assert.equal(component.status, 400, query);
      assert.equal((await f.call("DELETE", `/filters/${DOMAIN}?${query}`)).status, 400);
    }
    assert.equal(await snapshot(f), before, "no file written, nothing changed in memory");
    assert.equal((await f.call("GET", "/ui?token=a&token=b")).status, 400);
  } finally {
    await f.close();
  }
});

Deno.test("a restart with a garbage <domain>.json keeps the domain listed on defaults and says so", async () => {
  const f = await apiFixture({ domains: { [DOMAIN]: domainObject(), 8990: "garbage" } });
  try {
    const file = join(f.filtersDir, "8990.json");
    const message = f.store.problems.get(file) ?? "";
    assert.match(message, /running on defaults/);
    assert.doesNotMatch(message, /last good/);
    assert.deepEqual(f.store.onDefaults(), [8990]);
    // Known to the API, on the global configuration, with a chain.
    const list = await f.call("GET", "/filters");
    assert.ok((list.body.data as number[]).includes(8990), JSON.stringify(list.body));
    const config = await f.call("GET", "/filters/8990");
    assert.equal(config.status, 200);
    assert.deepEqual(config.body.data, JSON.parse(JSON.stringify(f.store.global)));
    assert.ok(f.pipeline.steps(8990) !== undefined, "the domain runs (on defaults)");
    // A reload while still broken says so again.
    const reload = await f.call("POST", "/reload_filters");
    assert.equal(reload.status, 400);
    assert.match(String(reload.body.exception), /domain\(s\) 8990 running on defaults/);
    assert.match(String(reload.body.exception), /8990\.json.*running on defaults/);
    // Fixed: its own configuration (and black list) takes over.
    await Deno.writeTextFile(file, JSON.stringify(domainObject()));
    assert.equal((await f.call("POST", "/reload_filters")).status, 200);
    assert.deepEqual(f.store.onDefaults(), []);
    await f.feed("198.51.100.9", {}, 8990);
    assert.ok(f.commands().includes("add tsng.fixed 198.51.100.9"), f.commands().join("\n"));
    // Broken again after a good load: the last good configuration is kept, not the defaults.
    await Deno.writeTextFile(file, "{ not json");
    const again = await f.call("POST", "/reload_filters");
    assert.equal(again.status, 400);
    assert.doesNotMatch(String(again.body.exception), /running on defaults/);
    assert.equal(f.store.domainConfig(8990).fixed_lists.lists[0]?.name, "bad");
  } finally {
    await f.close();
  }
});

/** Makes a FIFO with mkfifo(1); false when the system has none. */
async function mkfifo(path: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("mkfifo", { args: [path] }).output();
    return success;
  } catch {
    return false;
  }
}

Deno.test("Autoreload ignores a FIFO named like a configuration file and never opens it", async () => {
  const root = await Deno.makeTempDir({ prefix: "qts-fifo-" });
  const calls: string[] = [];
  let feed!: ReadableStreamDefaultController<Deno.FsEvent>;
  const timers = { setTimeout: (fn: () => void) => (fn(), 0), clearTimeout() {}, now: () => 0 };
  const auto = new Autoreload({
    settings: {
      filters_config_dir: [root],
      components_config_dir: root,
      autodiscover: false,
      autodiscover_interval: 300,
      autoreload_filters: true,
      autoreload_components: true,
    },
    log: silentLogger,
    timers,
    reload(what: ReloadKind) {
      calls.push(what);
      return Promise.resolve();
    },
    watch() {
      const stream = new ReadableStream<Deno.FsEvent>({ start: (c) => void (feed = c) });
      return Object.assign(stream, { close: () => feed.close() });
    },
  });
  try {
    if (!(await mkfifo(join(root, "lm.yaml"))) || !(await mkfifo(join(root, "7.json")))) {
      console.warn("no mkfifo: skipped");
      return;
    }
    await Deno.mkdir(join(root, "8.json"));
    await auto.start();
    feed.enqueue({ kind: "create", paths: [join(root, "lm.yaml"), join(root, "7.json")] });
    feed.enqueue({ kind: "create", paths: [join(root, "8.json")] });
    // A regular file after them: its reload is the only one.
    await Deno.writeTextFile(join(root, "9.json"), "{}");
    feed.enqueue({ kind: "create", paths: [join(root, "9.json")] });
    for (let i = 0; i < 20 && calls.length === 0; i++) await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(calls, ["filters"]);
  } finally {
    await auto.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("Autoreload.close() does not wait for ever on a reload stuck on a file (SIGTERM)", async () => {
  const due: (() => void)[] = [];
  const auto = new Autoreload({
    settings: {
      filters_config_dir: ["/nonexistent/qts"],
      components_config_dir: "",
      autodiscover: false,
      autodiscover_interval: 300,
      autoreload_filters: false,
      autoreload_components: false,
    },
    log: silentLogger,
    timers: {
      setTimeout: (fn) => due.push(fn),
      clearTimeout() {},
      now: () => 0,
    },
    closeWaitMs: 5000,
    reload: () => new Promise(() => {}), // never settles, as a read of a FIFO
  });
  auto.notify("components");
  due.shift()!(); // the debounce: the reload starts and hangs
  let closed = false;
  const closing = auto.close().then(() => closed = true);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(closed, false, "waits for the reload first");
  due.shift()!(); // closeWaitMs later
  await closing;
  assert.equal(closed, true);
});

const LUA_DOMAIN = 8991;

function luaDomain() {
  const object = domainObject();
  return {
    ...object,
    lua: { enabled: true, scripts: [{ file: "probe.lua" }] },
    lm: {
      ...object.lm,
      projections: [{
        name: "lua",
        events: "^lua_",
        rule_name: "tsng.lua",
        state: "enabled",
        timeout: 600,
      }],
    },
  };
}

Deno.test("an edited Lua script is reloaded though the domain configuration is unchanged", async () => {
  assert.equal(isConfigFile("components", "probe.lua"), true, "scripts are watched like configs");
  assert.equal(isConfigFile("components", ".probe.lua.swp"), false);
  const f = await apiFixture({
    domains: { [LUA_DOMAIN]: luaDomain() },
    components: { "probe.lua": "function deny_probe(req) return nil end\n" },
  });
  try {
    await f.feed("192.0.2.1", { url: "/probe" }, LUA_DOMAIN);
    assert.deepEqual(f.commands(), [], "version 1 flags nothing");
    await Deno.writeTextFile(
      join(f.componentsDir, "probe.lua"),
      'function deny_probe(req) if req.url == "/probe" then return true end end\n',
    );
    // What the watcher calls for a `*.lua` event (and POST /reload_components does).
    const report = await f.actions.reload("components", "autoreload");
    assert.deepEqual(report.problems, []);
    await f.feed("192.0.2.2", { url: "/probe" }, LUA_DOMAIN);
    assert.deepEqual(f.commands(), ["add tsng.lua 192.0.2.2"], "version 2 runs");
    // A reload with no script changed keeps the chain as it is (no rebuild of anything).
    const before = f.sent.length;
    assert.equal((await f.call("POST", "/reload_components")).status, 200);
    await f.feed("192.0.2.3", { url: "/probe" }, LUA_DOMAIN);
    assert.equal(f.sent.length, before + 1);
  } finally {
    await f.close();
  }
});
