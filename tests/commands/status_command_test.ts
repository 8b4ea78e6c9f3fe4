import assert from "node:assert/strict";
import { type CommandIo, processIo } from "../../src/commands/_api_client.ts";
import { parsePrometheus, statusCommand } from "../../src/commands/status_command.ts";
import { wrap } from "../../src/commands/_table.ts";
import { freePort } from "../_support/sensor_process.ts";
import {
  type ApiFixture,
  apiFixture,
  type ApiFixtureOptions,
  DOMAIN,
  domainObject,
} from "../sensor/api/_api_fixture.ts";

/** A real sensor's API (the fixture's pipeline and list manager) served on loopback. */
async function servedFixture(
  options: ApiFixtureOptions = {},
): Promise<{ f: ApiFixture; api: string; [Symbol.asyncDispose](): Promise<void> }> {
  const f = await apiFixture(options);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, f.app.fetch);
  return {
    f,
    api: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await f.close();
    },
  };
}

/** A CommandIo that collects stdout and stderr; `sleep` runs `during` instead of waiting. */
function captured(
  during: () => Promise<void> = () => Promise.resolve(),
): CommandIo & { stdout: string; stderr: string; slept: number[] } {
  const io = {
    ...processIo(),
    stdout: "",
    stderr: "",
    slept: [] as number[],
    columns: 120,
    env: () => undefined,
    out(text: string) {
      io.stdout += text + "\n";
    },
    err(text: string) {
      io.stderr += text + "\n";
    },
    async sleep(ms: number) {
      io.slept.push(ms);
      await during();
    },
  };
  return io;
}

/** Records for both domains: two bans in 8984 (fixed_bad ×3, fixed_scan), one request in 8985. */
async function traffic(f: ApiFixture): Promise<void> {
  for (let i = 0; i < 3; i++) await f.feed("198.51.100.9", { url: `/x${i}`, status: 404 });
  await f.feed("203.0.113.5", { url: "/scan" });
  await f.feed("192.0.2.1", { url: "/" }, 8985);
}

Deno.test("statusCommand() prints health, ingest counters, projections and events per domain", async () => {
  await using s = await servedFixture();
  await traffic(s.f);
  const io = captured();
  assert.equal(await statusCommand(["--api", s.api], io), 0);
  assert.equal(io.stderr, "");
  const text = io.stdout;
  // uptime_ms is 42 in the fixture: rates are averages over 0.042 s.
  assert.match(text, new RegExp(`^qts \\S+ at ${s.api.replace(/[.]/g, "\\.")}, up 42 ms\\n`));
  assert.match(text, /\nrates: averages since start/);
  assert.match(text, /\nINGEST\s+TOTAL\s+RATE\n/);
  assert.match(text, /\nrecords\s+5\s+119\/s\n/);
  assert.match(text, /\nevents\s+4\s+95\.2\/s\n/);
  assert.match(text, /\ndropped\s+0\s+0\/s\n/);
  assert.match(text, /\nactive bans\s+2\n/);
  assert.match(text, /\nlisteners: the API does not list them/);

  const [d8984, d8985] = text.split(/\n\n(?=domain )/).slice(1);
  assert.match(d8984!, /^domain 8984: 4 records \(95\.2\/s\), 2 active bans\n/);
  assert.match(d8984!, /\n {2}chain: ua_parser → location_flags → fixed_lists:early → /);
  assert.match(d8984!, /\n {2}PROJECTION\s+STATE\s+MODE\s+BANS\s+NOW\s+LAST\s+SINCE\s+RULE\n/);
  assert.match(
    d8984!,
    /\n {2}bad\s+enabled\s+block\s+1\s+3\/1\s+0\/0\s+2023-11-14T22:13:20Z\s+tsng\.fixed\n/,
  );
  assert.match(d8984!, /\n {2}scan\s+enabled\s+block\s+1\s+1\/1\s+0\/0\s+\S+\s+tsng\.scan\n/);
  assert.match(d8984!, /\n {2}uas\s+enabled\s+block\s+0\s+0\/0\s+0\/0\s+\S+\s+tsng\.many_uas\n/);
  assert.match(
    d8984!,
    /\n {2}EVENT\s+TOTAL\s+RATE\n {2}fixed_bad\s+3\s+71\.4\/s\n {2}fixed_scan\s+1\s+23\.8\/s\n/,
  );
  // A filter shared by domains on one configuration reports its counters once, for all of them.
  assert.match(text, /\n {2}probe_detector\s+probes 0, requests 5, scanners 0\n/);
  // 8985 runs the embedded projections: auto ones bring the WATCHED column.
  assert.match(d8985!, /^domain 8985: 1 record \(23\.8\/s\), 0 active bans\n/);
  assert.match(
    d8985!,
    /\n {2}PROJECTION\s+STATE\s+MODE\s+BANS\s+NOW\s+LAST\s+WATCHED\s+SINCE\s+RULE\n/,
  );
  assert.match(
    d8985!,
    /\n {2}location_rate\s+auto\s+nursery\s+0\s+0\/0\s+0\/0\s+0\s+\S+\s+tsng\.location_rate\n/,
  );
  for (const line of text.split("\n")) assert.ok(line.length <= 120, line);
});

Deno.test("statusCommand() marks a projection in simulation", async () => {
  const domain = domainObject();
  const [bad, ...others] = domain.lm.projections;
  await using s = await servedFixture({
    domains: {
      [DOMAIN]: {
        ...domain,
        lm: { ...domain.lm, projections: [{ ...bad!, simulate: true }, ...others] },
      },
    },
  });
  await s.f.feed("198.51.100.9");
  const io = captured();
  assert.equal(await statusCommand(["--api", s.api, "-d", "8984"], io), 0);
  assert.match(io.stdout, /\n {2}bad\s+enabled\s+block, simulated\s+1\s+1\/1\s+/);
  assert.match(io.stdout, /\n {2}scan\s+enabled\s+block\s+0\s+/);
  assert.deepEqual(s.f.sent, []);
});

Deno.test("statusCommand() --json prints one document with the API's answers as they are", async () => {
  await using s = await servedFixture();
  await traffic(s.f);
  const io = captured();
  assert.equal(await statusCommand(["--api", s.api, "--json"], io), 0);
  const doc = JSON.parse(io.stdout);
  assert.equal(doc.api, s.api);
  assert.deepEqual(doc.healthz, (await s.f.call("GET", "/healthz")).body);
  assert.deepEqual(doc.domains, [8984, 8985]);
  for (const id of [8984, 8985]) {
    assert.deepEqual(doc.stats[id], (await s.f.call("GET", `/stats/${id}`)).body.data);
  }
  assert.deepEqual(doc.errors, []);
  const metrics = await (await s.f.app.request("/metrics")).text();
  assert.deepEqual(doc.metrics, parsePrometheus(metrics));
  assert.ok(
    doc.metrics.some((m: { name: string; labels: { domain?: string }; value: number }) =>
      m.name === "qts_records_total" && m.labels.domain === "8984" && m.value === 4
    ),
  );
});

Deno.test("statusCommand() --interval shows the rates between two samples of /metrics", async () => {
  await using s = await servedFixture();
  await traffic(s.f);
  // What happens "during" the interval: ten more requests from one source of 8984.
  const io = captured(async () => {
    for (let i = 0; i < 10; i++) await s.f.feed("198.51.100.20", { url: `/y${i}` });
  });
  assert.equal(await statusCommand(["--api", s.api, "--interval", "2", "-d", "8984"], io), 0);
  assert.deepEqual(io.slept, [2000]);
  assert.match(io.stdout, /\nrates over the last 2 s\n/);
  assert.match(io.stdout, /\nrecords\s+15\s+5\.0\/s\n/);
  assert.match(io.stdout, /\ndomain 8984: 14 records \(5\.0\/s\), 3 active bans\n/);
  assert.match(io.stdout, /\n {2}bad\s+enabled\s+block\s+2\s+13\/2\s+/);
  assert.match(io.stdout, /\n {2}fixed_bad\s+13\s+5\.0\/s\n {2}fixed_scan\s+1\s+0\/s\n/);
  assert.ok(!io.stdout.includes("domain 8985"), "--domain shows one domain");
});

Deno.test("statusCommand() API refusals and connection errors are one line with exit 1", async () => {
  await using s = await servedFixture({ token: "s3cret" });
  const cases: [string[], RegExp][] = [
    [["--api", s.api], /^qts status: GET \/metrics: HTTP 401: the API wants a token/],
    [
      ["--api", s.api, "--token", "s3cret", "--domain", "77"],
      /^qts status: GET \/stats\/77: HTTP 400: unknown domain 77\n$/,
    ],
    [
      ["--api", `http://127.0.0.1:${freePort()}`],
      /^qts status: cannot reach the qts API at http:\/\/127\.0\.0\.1:\d+: .+\n$/,
    ],
  ];
  for (const [args, error] of cases) {
    const io = captured();
    assert.equal(await statusCommand(args, io), 1, args.join(" "));
    assert.equal(io.stdout, "");
    assert.match(io.stderr, error);
    assert.equal(io.stderr.split("\n").length, 2, io.stderr);
  }
  const io = captured();
  assert.equal(await statusCommand(["--api", s.api, "--token", "s3cret"], io), 0);
  assert.match(io.stdout, /\ndomain 8984: 0 records/);
});

Deno.test("statusCommand() usage errors exit 2 with the usage", async () => {
  for (
    const [args, error] of [
      [["--interval", "0"], /--interval "0" is not a number of seconds/],
      [["--interval", "soon"], /--interval "soon" is not a number of seconds/],
      [["--domain", "x"], /--domain "x" is not a domain id/],
      [["--api", "127.0.0.1:4180"], /--api "127\.0\.0\.1:4180" is not a URL/],
    ] as const
  ) {
    const io = captured();
    assert.equal(await statusCommand([...args], io), 2, args.join(" "));
    assert.match(io.stderr, error);
    assert.match(io.stderr, /Usage: qts status/);
  }
});

Deno.test("parsePrometheus() reads names, escaped label values and values; skips the rest", () => {
  assert.deepEqual(
    parsePrometheus(
      [
        "# HELP qts_x An x",
        "# TYPE qts_x counter",
        'qts_x{domain="8984",event="a\\"b\\\\c\\nd"} 3',
        "qts_up 1 1700000000000",
        "qts_bad{domain=8984} 1",
        "qts_nan",
        `qts_y{reason="bad_header",} 2.5`,
        "",
      ].join("\n"),
    ),
    [
      { name: "qts_x", labels: { domain: "8984", event: 'a"b\\c\nd' }, value: 3 },
      { name: "qts_up", labels: {}, value: 1 },
      { name: "qts_y", labels: { reason: "bad_header" }, value: 2.5 },
    ],
  );
});

Deno.test("wrap() breaks a list at the width and keeps the separator at the line end", () => {
  assert.deepEqual(
    wrap(["aaaa", "bbbb", "cccc"], { first: "  chain: ", separator: " → ", width: 20 }),
    [
      "  chain: aaaa → bbbb →",
      "         cccc",
    ],
  );
});
