import assert from "node:assert/strict";
import { join } from "node:path";
import { COMPONENT_NAMES } from "../../../src/shared/config/components.ts";
import { VERSION } from "../../../src/shared/version.ts";
import { apiFixture, DOMAIN, domainObject } from "./_api_fixture.ts";

async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

Deno.test("GET /healthz answers success with version and uptime", async () => {
  const f = await apiFixture();
  try {
    const r = await f.call("GET", "/healthz");
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: "success", version: VERSION, uptime_ms: 42 });
  } finally {
    await f.close();
  }
});

Deno.test("GET /filters lists configured domains: files, API changes and force_domains", async () => {
  const f = await apiFixture({ domains: { [DOMAIN]: domainObject(), 7: {} } });
  try {
    assert.deepEqual((await f.call("GET", "/filters")).body, {
      status: "success",
      data: [7, DOMAIN, 8985],
    });
    await f.call("PUT", "/filters/9000", {});
    assert.deepEqual((await f.call("GET", "/filters")).body.data, [7, DOMAIN, 8985, 9000]);
  } finally {
    await f.close();
  }
});

Deno.test("GET /filters/<domain> gives every component, domain objects over the global ones", async () => {
  const f = await apiFixture();
  try {
    const r = await f.call("GET", `/filters/${DOMAIN}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.status, "success");
    const data = r.body.data as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(data), COMPONENT_NAMES);
    assert.equal(data.many_uas!.max_uas, 3);
    assert.equal(data.limit_req_mc!.enabled, false);
    assert.deepEqual(
      (data.lm!.projections as { name: string }[]).map((p) => p.name),
      ["bad", "scan", "uas"],
    );
    // A component the file leaves out is the global one, whole.
    assert.deepEqual(data.request_hash_score, f.store.global.request_hash_score);
    // The trailing slash form is the same endpoint.
    assert.deepEqual((await f.call("GET", `/filters/${DOMAIN}/`)).body, r.body);
  } finally {
    await f.close();
  }
});

Deno.test("GET /filters/<domain>/<component> gives one component's object", async () => {
  const f = await apiFixture();
  try {
    const r = await f.call("GET", `/filters/${DOMAIN}/many_uas`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      status: "success",
      data: {
        enabled: true,
        skip_if: ["whitelisted"],
        max_uas: 3,
        window: 300,
        min_new_share: 0,
      },
    });
  } finally {
    await f.close();
  }
});

Deno.test("GET /filters/<domain>[/<component>] refuses unknown domains and components", async () => {
  const f = await apiFixture();
  try {
    assert.deepEqual(await f.call("GET", "/filters/1234").then((r) => [r.status, r.body]), [
      400,
      { status: "error", exception: "unknown domain 1234" },
    ]);
    assert.deepEqual(await f.call("GET", "/filters/1234/lm").then((r) => [r.status, r.body]), [
      400,
      { status: "error", exception: "unknown domain 1234" },
    ]);
    const r = await f.call("GET", `/filters/${DOMAIN}/nope`);
    assert.equal(r.status, 400);
    assert.equal(r.body.status, "error");
    assert.match(String(r.body.exception), /^unknown component "nope" \(known: fixed_lists, /);
    const bad = await f.call("GET", "/filters/abc");
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.exception), /domain "abc" is not a domain id/);
  } finally {
    await f.close();
  }
});

Deno.test("PUT /filters/<domain> replaces the given components, the rest from default.conf, in memory", async () => {
  const f = await apiFixture();
  try {
    const r = await f.call("PUT", "/filters/9000", { many_uas: { max_uas: 7 } });
    assert.equal(r.status, 200);
    const data = (await f.call("GET", "/filters/9000")).body.data as Record<string, unknown>;
    assert.deepEqual(r.body, { status: "success", data }, "the answer is the effective config");
    // Fields the PUT leaves out keep the layer below's values (skip_if stays [whitelisted]),
    // never a schema constant.
    assert.deepEqual(data.many_uas, { ...f.store.global.many_uas, max_uas: 7 });
    assert.deepEqual((data.many_uas as { skip_if: string[] }).skip_if, ["whitelisted"]);
    assert.deepEqual(data.lm, f.store.global.lm);
    assert.deepEqual(await files(f.filtersDir), [`${DOMAIN}.json`], "rewrite=0 writes nothing");
    assert.ok(f.pipeline.steps(9000), "the new domain's chain is built");

    // Replacing the whole domain drops components it no longer gives.
    await f.call("PUT", `/filters/${DOMAIN}`, { many_uas: { max_uas: 9 } });
    const after = (await f.call("GET", `/filters/${DOMAIN}`)).body.data as Record<
      string,
      unknown
    >;
    assert.deepEqual(after.fixed_lists, f.store.global.fixed_lists);
    assert.equal((after.many_uas as { max_uas: number }).max_uas, 9);
  } finally {
    await f.close();
  }
});

Deno.test("PUT /filters/<domain>?rewrite=1 writes <domain>.json atomically to the first dir", async () => {
  const f = await apiFixture();
  try {
    const body = { many_uas: { max_uas: 5 }, lua: { enabled: false } };
    const r = await f.call("PUT", "/filters/9001?rewrite=1", body);
    assert.equal(r.status, 200);
    assert.deepEqual(await files(f.filtersDir), [`${DOMAIN}.json`, "9001.json"]);
    assert.deepEqual(await files(f.moreDir), []);
    const saved = JSON.parse(await Deno.readTextFile(join(f.filtersDir, "9001.json")));
    assert.deepEqual(saved, body, "the file holds what the operator set, nothing more");
    // What was saved is what a reload reads back.
    const before = (await f.call("GET", "/filters/9001")).body.data;
    await f.call("POST", "/reload_filters");
    const data = (await f.call("GET", "/filters/9001")).body.data as Record<string, unknown>;
    assert.deepEqual(data, before);
    assert.deepEqual(data.many_uas, { ...f.store.global.many_uas, max_uas: 5 });

    const wrong = await f.call("PUT", "/filters/9001?rewrite=yes", body);
    assert.deepEqual([wrong.status, wrong.body], [400, {
      status: "error",
      exception: 'rewrite must be 0 or 1, not "yes"',
    }]);
  } finally {
    await f.close();
  }
});

Deno.test("PUT /filters/<domain>/<component> keeps the domain's other components", async () => {
  const f = await apiFixture();
  try {
    const r = await f.call("PUT", `/filters/${DOMAIN}/many_uas`, { max_uas: 11 });
    assert.deepEqual([r.status, r.body.status], [200, "success"]);
    const data = (await f.call("GET", `/filters/${DOMAIN}`)).body.data as Record<
      string,
      { [k: string]: unknown }
    >;
    assert.equal(data.many_uas!.max_uas, 11);
    assert.equal((data.fixed_lists!.lists as unknown[]).length, 3, "fixed_lists kept");
    assert.equal(data.limit_req_mc!.enabled, false);

    // On a domain without a configuration, the one component is its whole own configuration.
    await f.call("PUT", "/filters/9002/many_uas?rewrite=1", { max_uas: 4 });
    const saved = JSON.parse(await Deno.readTextFile(join(f.filtersDir, "9002.json")));
    assert.deepEqual(Object.keys(saved), ["many_uas"]);
  } finally {
    await f.close();
  }
});

Deno.test("PUT /filters/<domain>/lm disabling a projection sends del for its active IPs only", async () => {
  const f = await apiFixture();
  try {
    await f.feed("198.51.100.9");
    await f.feed("203.0.113.1");
    await f.feed("203.0.113.2");
    await f.feed("203.0.113.2");
    assert.deepEqual(f.commands(), [
      "add tsng.fixed 198.51.100.9",
      "add tsng.scan 203.0.113.1",
      "add tsng.scan 203.0.113.2",
    ]);
    const lm = domainObject("disabled").lm;
    const r = await f.call("PUT", `/filters/${DOMAIN}/lm`, lm);
    assert.deepEqual([r.status, r.body.status], [200, "success"]);
    assert.deepEqual(f.commands(3), ["del tsng.scan 203.0.113.1", "del tsng.scan 203.0.113.2"]);
    assert.equal(f.sent[3]!.comment, "fixed_scan");
    assert.equal("timeout" in f.sent[3]!, false);
    // Disabled: further scan events do nothing; the black list still bans.
    await f.feed("203.0.113.3");
    await f.feed("198.51.100.10");
    assert.deepEqual(f.commands(5), ["add tsng.fixed 198.51.100.10"]);
  } finally {
    await f.close();
  }
});

Deno.test("PUT /filters/<domain> with {} ends the anomalies of projections it drops", async () => {
  const f = await apiFixture();
  try {
    await f.feed("198.51.100.9");
    await f.feed("203.0.113.1");
    const r = await f.call("PUT", `/filters/${DOMAIN}`, {});
    assert.equal(r.status, 200);
    // The domain now runs the global projections only; bans of bad and scan are lifted.
    assert.deepEqual(f.commands(2).sort(), [
      "del tsng.fixed 198.51.100.9",
      "del tsng.scan 203.0.113.1",
    ]);
    assert.deepEqual(f.lm.bans(DOMAIN), []);
  } finally {
    await f.close();
  }
});

Deno.test("DELETE /filters/<domain> of a force_domains domain returns it to the defaults, lifting its own projections' bans only", async () => {
  const own = domainObject();
  const f = await apiFixture({
    domains: { [DOMAIN]: { ...own, lm: { ...own.lm, use_component_projections: true } } },
  });
  try {
    await f.feed("198.51.100.9");
    await f.feed("203.0.113.1");
    // A global projection's ban (default.conf's probe: 3 probes) in the same domain.
    for (let i = 0; i < 3; i++) await f.feed("192.0.2.66", { url: "/.env" });
    // Its own projections (tsng.fixed, tsng.scan) and the global ones (fixed_lists, probe).
    assert.deepEqual(f.commands().sort(), [
      "add tsng.fixed 198.51.100.9",
      "add tsng.fixed_lists 198.51.100.9",
      "add tsng.fixed_lists 203.0.113.1",
      "add tsng.probe 192.0.2.66",
      "add tsng.scan 203.0.113.1",
    ]);
    const r = await f.call("DELETE", `/filters/${DOMAIN}`);
    assert.deepEqual([r.status, r.body], [200, { status: "success" }]);
    assert.deepEqual(f.commands(5).sort(), [
      "del tsng.fixed 198.51.100.9",
      "del tsng.scan 203.0.113.1",
    ], "the global projections' bans stay");
    const bans = (await f.call("GET", `/bans/${DOMAIN}`)).body.data as { rule_name: string }[];
    assert.deepEqual(bans.map((b) => b.rule_name).sort(), [
      "tsng.fixed_lists",
      "tsng.fixed_lists",
      "tsng.probe",
    ]);
    // Still processed (force_domains), so still listed, now on the global configuration.
    assert.deepEqual((await f.call("GET", "/filters")).body.data, [DOMAIN, 8985]);
    const data = (await f.call("GET", `/filters/${DOMAIN}`)).body.data;
    assert.deepEqual(data, f.store.global);
    // Without rewrite=1 the file stays, and a reload brings the domain's own objects back.
    assert.deepEqual(await files(f.filtersDir), [`${DOMAIN}.json`]);
    await f.call("POST", "/reload_filters");
    const back = (await f.call("GET", `/filters/${DOMAIN}`)).body.data as { lm: unknown };
    assert.notDeepEqual(back.lm, f.store.global.lm);
  } finally {
    await f.close();
  }
});

Deno.test("DELETE /filters/<domain> of a domain outside force_domains forgets it and its bans", async () => {
  const f = await apiFixture({ domains: { [DOMAIN]: domainObject(), 9100: domainObject() } });
  try {
    await f.feed("198.51.100.9");
    await f.call("DELETE", `/filters/${DOMAIN}`);
    await f.call("PUT", "/filters/9100", domainObject());
    const r = await f.call("DELETE", "/filters/9100");
    assert.deepEqual([r.status, r.body], [200, { status: "success" }]);
    assert.deepEqual((await f.call("GET", "/filters")).body.data, [DOMAIN, 8985]);
    assert.deepEqual(await f.call("DELETE", "/filters/9100").then((x) => x.body), {
      status: "error",
      exception: "unknown domain 9100",
    });
  } finally {
    await f.close();
  }
});

Deno.test("DELETE /filters/<domain>?rewrite=1 also removes the file, so a reload keeps it gone", async () => {
  const f = await apiFixture({ domains: { 9100: domainObject() } });
  try {
    assert.equal((await f.call("DELETE", "/filters/9100?rewrite=1")).status, 200);
    assert.deepEqual(await files(f.filtersDir), []);
    await f.call("POST", "/reload_filters");
    assert.deepEqual((await f.call("GET", "/filters")).body.data, [DOMAIN, 8985]);
  } finally {
    await f.close();
  }
});

Deno.test("POST /reload_filters applies changed files and drops in-memory changes", async () => {
  const f = await apiFixture();
  try {
    await f.call("PUT", "/filters/9000", {});
    await Deno.writeTextFile(
      join(f.filtersDir, `${DOMAIN}.json`),
      JSON.stringify({ ...domainObject(), many_uas: { max_uas: 20 } }),
    );
    const r = await f.call("POST", "/reload_filters");
    assert.deepEqual([r.status, r.body], [200, { status: "success" }]);
    assert.equal(
      ((await f.call("GET", `/filters/${DOMAIN}/many_uas`)).body.data as { max_uas: number })
        .max_uas,
      20,
    );
    assert.deepEqual((await f.call("GET", "/filters")).body.data, [DOMAIN, 8985]);
    assert.match(
      f.metrics.render(),
      /qts_reloads_total\{what="filters",trigger="api",result="ok"\} 1/,
    );
  } finally {
    await f.close();
  }
});

Deno.test("POST /reload_filters with a broken file keeps the last good config and answers 400", async () => {
  const f = await apiFixture();
  try {
    const file = join(f.filtersDir, `${DOMAIN}.json`);
    await Deno.writeTextFile(file, JSON.stringify({ many_uas: { max_uas: "ten" } }));
    const r = await f.call("POST", "/reload_filters");
    assert.equal(r.status, 400);
    assert.equal(r.body.status, "error");
    const exception = String(r.body.exception);
    assert.ok(exception.includes(file), exception);
    assert.ok(exception.includes("many_uas.max_uas: expected a number"), exception);
    const data = (await f.call("GET", `/filters/${DOMAIN}/many_uas`)).body.data;
    assert.equal((data as { max_uas: number }).max_uas, 3);
    await f.feed("198.51.100.9");
    assert.deepEqual(f.commands(), ["add tsng.fixed 198.51.100.9"], "the old chain still runs");
    const metrics = f.metrics.render();
    assert.match(metrics, /qts_reloads_total\{what="filters",trigger="api",result="error"\} 1/);
    assert.match(metrics, /qts_config_files_rejected 1/);

    // Unparseable JSON: named too.
    await Deno.writeTextFile(file, "{ nope");
    const again = await f.call("POST", "/reload_filters");
    assert.equal(again.status, 400);
    assert.match(String(again.body.exception), /cannot parse/);
  } finally {
    await f.close();
  }
});

Deno.test("POST /reload_filters reports a domain whose filters fail to build; the old chain stays", async () => {
  const f = await apiFixture();
  try {
    const file = join(f.filtersDir, `${DOMAIN}.json`);
    const broken = domainObject();
    broken.fixed_lists.lists.push({ name: "gone", type: "black", file: "missing.txt" } as never);
    await Deno.writeTextFile(file, JSON.stringify(broken));
    const r = await f.call("POST", "/reload_filters");
    assert.equal(r.status, 400);
    const exception = String(r.body.exception);
    assert.match(exception, /Cannot load component "fixed_lists" for domain 8984/);
    assert.match(exception, /"gone"\.file/);
    await f.feed("198.51.100.9");
    assert.deepEqual(f.commands(), ["add tsng.fixed 198.51.100.9"]);
  } finally {
    await f.close();
  }
});

Deno.test("POST /reload_components applies global files and reports broken ones", async () => {
  const f = await apiFixture({ domains: { [DOMAIN]: domainObject(), 9000: {} } });
  try {
    await Deno.writeTextFile(join(f.componentsDir, "many_uas.yaml"), "max_uas: 42\n");
    const ok = await f.call("POST", "/reload_components");
    assert.deepEqual([ok.status, ok.body], [200, { status: "success" }]);
    const uas = (id: number) =>
      f.call("GET", `/filters/${id}/many_uas`).then((r) => (r.body.data as { max_uas: number }));
    assert.equal((await uas(9000)).max_uas, 42, "a domain without its own object follows");
    assert.equal((await uas(DOMAIN)).max_uas, 3, "a domain's own object wins");

    await Deno.writeTextFile(join(f.componentsDir, "many_uas.yaml"), "max_uas: [1\n");
    const bad = await f.call("POST", "/reload_components");
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.exception), /many_uas\.yaml/);
    assert.equal((await uas(9000)).max_uas, 42, "last good value kept");
  } finally {
    await f.close();
  }
});

Deno.test("GET /metrics answers Prometheus text", async () => {
  const f = await apiFixture();
  try {
    await f.feed("198.51.100.9");
    const response = await f.app.request("/metrics");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /# TYPE qts_records_total counter/);
    assert.match(text, /qts_records_total\{domain="8984"[^}]*\} 1/);
    // The filters' own counters reach /metrics too (here: a probe and the requests seen).
    await f.feed("198.51.100.10", { url: "/.env" });
    const after = await (await f.app.request("/metrics")).text();
    assert.match(
      after,
      /^qts_filter_counter_total\{domain="8984",filter="probe_detector",counter="requests"\} 2$/m,
    );
    assert.match(
      after,
      /^qts_filter_counter_total\{domain="8984",filter="probe_detector",counter="probes"\} 1$/m,
    );
  } finally {
    await f.close();
  }
});

Deno.test("GET /stats/<domain> shows the chain, projection modes and ban count", async () => {
  const f = await apiFixture();
  try {
    await f.feed("198.51.100.9");
    const r = await f.call("GET", `/stats/${DOMAIN}`);
    assert.equal(r.status, 200);
    const data = r.body.data as Record<string, unknown>;
    assert.equal(data.domain_id, DOMAIN);
    assert.ok((data.filters as string[]).includes("fixed_lists:late"));
    assert.deepEqual(Object.keys(data.projections as object), ["bad", "scan", "uas"]);
    assert.equal((data.projections as Record<string, { bans: number }>).bad!.bans, 1);
    assert.equal(data.bans, 1);
    assert.deepEqual(await f.call("GET", "/stats/5").then((x) => [x.status, x.body]), [400, {
      status: "error",
      exception: "unknown domain 5",
    }]);
  } finally {
    await f.close();
  }
});

Deno.test("GET /bans, GET /bans/<domain> and DELETE /bans/<domain>/<ip> (manual unban → del)", async () => {
  const f = await apiFixture();
  try {
    await f.feed("198.51.100.9");
    await f.feed("2001:db8::1", { remote_ip: 0 });
    await f.call("PUT", `/filters/${DOMAIN}/fixed_lists`, {
      lists: [
        { name: "bad", type: "black", entries: ["198.51.100.0/24", "2001:db8::/32"] },
        { name: "scan", type: "black", entries: ["203.0.113.0/24"] },
      ],
    });
    await f.feed("2001:db8::1", { remote_ip: 0 });
    const bans = (await f.call("GET", `/bans/${DOMAIN}`)).body;
    assert.equal(bans.status, "success");
    assert.deepEqual((bans.data as { ip: string }[]).map((b) => b.ip), [
      "198.51.100.9",
      "2001:db8::1",
    ]);
    const first = (bans.data as Record<string, unknown>[])[0]!;
    assert.deepEqual(Object.keys(first), [
      "ip",
      "rule_name",
      "comment",
      "added_at",
      "expires_at",
      "projection",
      "simulated",
      "reason",
      "events",
    ]);
    assert.equal(first.projection, "bad");
    const all = (await f.call("GET", "/bans")).body.data as Record<string, unknown>[];
    assert.deepEqual(all.map((b) => `${b.domain_id} ${b.ip}`), [
      `${DOMAIN} 198.51.100.9`,
      `${DOMAIN} 2001:db8::1`,
    ]);

    const before = f.sent.length;
    const r = await f.call("DELETE", `/bans/${DOMAIN}/198.51.100.9`);
    assert.deepEqual([r.status, r.body], [200, { status: "success", data: { removed: 1 } }]);
    // Another spelling of the same IPv6 address finds the ban.
    const v6 = await f.call("DELETE", `/bans/${DOMAIN}/2001:DB8:0::1`);
    assert.deepEqual([v6.status, v6.body], [200, { status: "success", data: { removed: 1 } }]);
    assert.deepEqual(f.commands(before), [
      "del tsng.fixed 198.51.100.9",
      "del tsng.fixed 2001:db8::1",
    ]);
    assert.deepEqual((await f.call("GET", `/bans/${DOMAIN}`)).body.data, []);

    assert.deepEqual(await f.call("DELETE", `/bans/${DOMAIN}/198.51.100.9`).then((x) => x.body), {
      status: "error",
      exception: `no active ban for 198.51.100.9 in domain ${DOMAIN}`,
    });
    assert.deepEqual(await f.call("DELETE", `/bans/${DOMAIN}/1.2.3`).then((x) => x.body), {
      status: "error",
      exception: '"1.2.3" is not an IP address',
    });
    assert.equal((await f.call("GET", "/bans/77")).status, 400);
  } finally {
    await f.close();
  }
});

Deno.test("createApi() with api_token requires the bearer token everywhere but /healthz", async () => {
  const f = await apiFixture({ token: "s3cret" });
  try {
    const none = await f.call("GET", "/filters");
    assert.deepEqual([none.status, none.body], [401, {
      status: "error",
      exception: "missing or wrong bearer token (Authorization: Bearer <api_token>)",
    }]);
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="qts"');
    const wrong = await f.call("GET", "/filters", undefined, { authorization: "Bearer s3cres" });
    assert.equal(wrong.status, 401);
    const basic = await f.call("GET", "/metrics", undefined, { authorization: "Basic s3cret" });
    assert.equal(basic.status, 401);
    const put = await f.call("PUT", "/filters/9000", {});
    assert.equal(put.status, 401);
    assert.deepEqual(f.store.domains(), [DOMAIN, 8985], "the PUT changed nothing");
    const ok = await f.call("GET", "/filters", undefined, { authorization: "Bearer s3cret" });
    assert.deepEqual([ok.status, ok.body.status], [200, "success"]);
    assert.equal((await f.call("GET", "/healthz")).status, 200);
  } finally {
    await f.close();
  }
});

Deno.test("createApi() answers an unknown endpoint or method with a 400 error object", async () => {
  const f = await apiFixture();
  try {
    assert.deepEqual(await f.call("GET", "/nope").then((r) => [r.status, r.body]), [400, {
      status: "error",
      exception: "no endpoint GET /nope",
    }]);
    assert.deepEqual(await f.call("POST", "/filters").then((r) => [r.status, r.body]), [400, {
      status: "error",
      exception: "no endpoint POST /filters",
    }]);
  } finally {
    await f.close();
  }
});

Deno.test("DELETE /bans/<domain>/<ip> with an address inside an IPv6 network ban lifts it", async () => {
  const f = await apiFixture();
  try {
    await f.call("PUT", `/filters/${DOMAIN}/lm`, {
      use_component_projections: false,
      projections: [{
        name: "probe",
        events: "^probe_",
        rule_name: "tsng.probe",
        state: "enabled",
        ipv6_prefix: 64,
      }],
    });
    await f.feed("2001:db8:a:b::1", { remote_ip: 0, url: "/.env" });
    const bans = (await f.call("GET", `/bans/${DOMAIN}`)).body.data as { ip: string }[];
    assert.deepEqual(bans.map((b) => b.ip), ["2001:db8:a:b::/64"]);
    const r = await f.call("DELETE", `/bans/${DOMAIN}/2001:db8:a:b::77`);
    assert.deepEqual([r.status, r.body], [200, { status: "success", data: { removed: 1 } }]);
    assert.deepEqual(f.commands().at(-1), "del tsng.probe 2001:db8:a:b::/64");
  } finally {
    await f.close();
  }
});

Deno.test("GET /bans/<domain>/<ip> and GET /ips/<ip> explain a ban: projection, events, requests", async () => {
  const f = await apiFixture();
  try {
    await f.feed("198.51.100.9", { url: "/admin?x=1", http_user_agent: "evil/1" });
    const r = await f.call("GET", `/bans/${DOMAIN}/198.51.100.9`);
    assert.equal(r.status, 200);
    const data = r.body.data as {
      ip: string;
      bans: { projection: string; reason: string; evidence: Record<string, unknown> }[];
      history: { action: string }[];
    };
    assert.equal(data.ip, "198.51.100.9");
    assert.deepEqual(data.bans.map((b) => [b.projection, b.reason]), [["bad", "event"]]);
    assert.deepEqual(data.bans[0]!.evidence.events, { fixed_bad: 1 });
    assert.deepEqual(
      (data.bans[0]!.evidence.samples as { url: string; ua: string }[]).map((s) => [s.url, s.ua]),
      [["/admin?x=1", "evil/1"]],
    );
    assert.deepEqual(data.history.map((h) => h.action), ["add"]);
    const across = (await f.call("GET", "/ips/198.51.100.9")).body.data as typeof data;
    assert.deepEqual(across.bans.map((b) => b.projection), ["bad"]);
    assert.deepEqual((await f.call("GET", "/ips/not-an-ip")).status, 400);
  } finally {
    await f.close();
  }
});
