import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bansCommand, formatExplanation } from "../../src/commands/bans_command.ts";
import { ApiClient, type CommandIo, processIo } from "../../src/commands/_api_client.ts";
import { cut, printable, table } from "../../src/commands/_table.ts";
import { emptyRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { PushSocket } from "../../src/sensor/zmtp/mod.ts";
import { parseIPv4 } from "../../src/shared/net/ip.ts";
import { freePort, sensorIni, startSensor, waitFor } from "../_support/sensor_process.ts";
import {
  type ApiFixture,
  apiFixture,
  type ApiFixtureOptions,
  DOMAIN,
  domainObject,
} from "../sensor/api/_api_fixture.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
const BAD = "198.51.100.9";
const SCAN = "203.0.113.5";

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

/** A CommandIo that collects stdout and stderr; "now" is `now`. */
function captured(now: number, columns = 120): CommandIo & { stdout: string; stderr: string } {
  const io = {
    ...processIo(),
    stdout: "",
    stderr: "",
    columns,
    now: () => now,
    env: () => undefined,
    out(text: string) {
      io.stdout += text + "\n";
    },
    err(text: string) {
      io.stderr += text + "\n";
    },
  };
  return io;
}

/** The domain object with `bad` needing 3 events within 60 s of a source before it bans. */
function evidenceDomain() {
  const domain = domainObject();
  const [bad, ...others] = domain.lm.projections;
  return {
    ...domain,
    lm: {
      ...domain.lm,
      projections: [{ ...bad!, evidence: { events: 3, window: 60 } }, ...others],
    },
  };
}

/** Column start offsets of a table's header line. */
function columnStarts(header: string): number[] {
  return [...header.matchAll(/(?:^|\s{2,})(\S)/g)].map((m) => m.index! + m[0].length - 1);
}

Deno.test("bansCommand() list prints one aligned row per active ban of every domain", async () => {
  await using s = await servedFixture();
  await s.f.feed(BAD, { url: "/a", status: 404 });
  await s.f.feed(SCAN, { url: "/b" });
  const io = captured(s.f.clock.t);
  assert.equal(await bansCommand(["list", "--api", s.api], io), 0);
  const lines = io.stdout.trimEnd().split("\n");
  assert.match(lines[0]!, /^DOMAIN\s+IP\s+PROJECTION\s+RULE\s+REASON\s+EVENTS\s+ADDED\s+EXPIRES/);
  const starts = columnStarts(lines[0]!);
  for (const row of lines.slice(1, 3)) {
    // Every cell of a left-aligned column starts where its title does (EVENTS is right-aligned).
    for (const i of [0, 1, 2, 3, 4, 6, 7, 8]) {
      assert.notEqual(row[starts[i]!], " ", row);
      if (i > 0) assert.equal(row[starts[i]! - 1], " ", row);
    }
  }
  assert.match(
    lines[1]!,
    /^8984\s+198\.51\.100\.9\s+bad\s+tsng\.fixed\s+event\s+1\s+2023-11-14T22:13:20Z\s+in 23 h 59 min\s+fixed_bad$/,
  );
  assert.match(
    lines[2]!,
    /^8984\s+203\.0\.113\.5\s+scan\s+tsng\.scan\s+event\s+1\s+\S+\s+in 1 h\s+fixed_scan$/,
  );
  assert.equal(lines[4], "2 active bans in 1 domain");
  assert.equal(io.stderr, "");
});

Deno.test("bansCommand() list --json prints the API's data as is, one document", async () => {
  await using s = await servedFixture();
  await s.f.feed(BAD);
  for (const [args, path] of [[[], "/bans"], [["--domain", "8984"], "/bans/8984"]] as const) {
    const io = captured(s.f.clock.t);
    assert.equal(await bansCommand(["list", ...args, "--json", "--api", s.api], io), 0);
    assert.deepEqual(JSON.parse(io.stdout), (await s.f.call("GET", path)).body.data);
  }
  const io = captured(s.f.clock.t);
  assert.equal(await bansCommand(["--api", s.api, "--domain", "8985"], io), 0);
  assert.equal(io.stdout, "no active bans in domain 8985\n");
});

Deno.test("bansCommand() show prints the evidence: projection, threshold, events, samples", async () => {
  await using s = await servedFixture({ domains: { [DOMAIN]: evidenceDomain() } });
  const uas = ["curl/8.0", "python-requests/2.31", "Go-http-client/1.1"];
  for (let i = 0; i < 3; i++) {
    await s.f.feed(BAD, { url: `/wp-login.php?try=${i}`, status: 401, http_user_agent: uas[i]! });
  }
  assert.deepEqual(s.f.commands(), [`add tsng.fixed ${BAD}`]);
  const io = captured(s.f.clock.t + 5 * 60_000);
  assert.equal(await bansCommand(["show", BAD, "--api", s.api], io), 0);
  const text = io.stdout;
  assert.match(text, /^198\.51\.100\.9: 1 active ban\n/);
  assert.match(text, /\ndomain 8984 {2}198\.51\.100\.9 {2}tsng\.fixed\n/);
  assert.match(text, /\n {2}projection {2}bad, mode block, reason evidence\n/);
  assert.match(text, /\n {2}threshold {3}3 events within 60 s\n/);
  assert.match(text, /\n {2}events {6}fixed_bad 3 \(count 3\)\n/);
  assert.match(text, /\n {2}seen {8}2023-11-14T22:13:20Z – 2023-11-14T22:13:20Z \(2 ms\)\n/);
  assert.match(text, /\n {2}expires {5}2023-11-15T22:13:20Z \(in 23 h 55 min\)\n/);
  assert.match(text, /\n {2}samples {5}METHOD\s+HOST\s+URL\s+STATUS\s+USER-AGENT\n/);
  for (let i = 0; i < 3; i++) {
    assert.match(
      text,
      new RegExp(
        `\\n {14}GET\\s+example\\.com\\s+/wp-login\\.php\\?try=${i}\\s+401\\s+${
          uas[i]!.replace(/[./]/g, "\\$&")
        }\\n`,
      ),
    );
  }
  assert.match(text, /\nhistory \(oldest first\)\n {2}AT\s+DOMAIN\s+ACTION/);
  assert.match(text, /\n {2}2023-11-14T22:13:20Z\s+8984\s+add\s+tsng\.fixed\s+bad\s+fixed_bad\n$/);

  // --domain reads GET /bans/<domain>/<ip>; --json prints its data as is.
  const json = captured(s.f.clock.t);
  assert.equal(await bansCommand(["show", BAD, "-d", "8984", "--json", "--api", s.api], json), 0);
  assert.deepEqual(JSON.parse(json.stdout), (await s.f.call("GET", `/bans/8984/${BAD}`)).body.data);
});

Deno.test("bansCommand() show makes what an attacker sent printable and cuts it to the width", async () => {
  await using s = await servedFixture();
  const ua = `Mozilla/5.0 \x1b[2J\x1b]0;owned\x07 ${"x".repeat(300)}`;
  await s.f.feed(BAD, { url: "/\x1b[31mred", status: 404, http_user_agent: ua });
  const io = captured(s.f.clock.t, 100);
  assert.equal(await bansCommand(["show", BAD, "--api", s.api], io), 0);
  assert.ok(!io.stdout.includes("\x1b"), io.stdout);
  assert.match(
    io.stdout,
    /\/\\x1b\[31mred\s+404\s+Mozilla\/5\.0 \\x1b\[2J\\x1b\]0;owned\\x07 x+…\n/,
  );
  for (const line of io.stdout.split("\n")) assert.ok(line.length <= 100, line);
});

Deno.test("bansCommand() show of an IP without a ban says so and lists its history", async () => {
  await using s = await servedFixture();
  await s.f.feed(SCAN);
  await s.f.call("DELETE", `/bans/8984/${SCAN}`);
  const io = captured(s.f.clock.t);
  assert.equal(await bansCommand(["show", SCAN, "--api", s.api], io), 0);
  assert.match(io.stdout, /^203\.0\.113\.5: no active ban\n\nhistory \(oldest first\)\n/);
  assert.match(io.stdout, /\s+8984\s+add\s+tsng\.scan\s+scan\s+fixed_scan\n/);
  assert.match(io.stdout, /\s+8984\s+del\s+tsng\.scan\s+scan\s+fixed_scan\n$/);
});

Deno.test("bansCommand() del without --domain lifts the IP's bans in every domain", async () => {
  await using s = await servedFixture({
    domains: { [DOMAIN]: domainObject(), 8985: domainObject() },
  });
  await s.f.feed(BAD, {}, 8984);
  await s.f.feed(BAD, {}, 8985);
  await s.f.feed(SCAN, {}, 8984);
  const from = s.f.sent.length;
  const io = captured(s.f.clock.t);
  assert.equal(await bansCommand(["del", BAD, "--api", s.api], io), 0);
  assert.equal(
    io.stdout,
    `${BAD}: lifted 1 ban in domain 8984\n${BAD}: lifted 1 ban in domain 8985\n`,
  );
  assert.deepEqual(s.f.commands(from), [`del tsng.fixed ${BAD}`, `del tsng.fixed ${BAD}`]);
  assert.deepEqual(s.f.sent.slice(from).map((c) => c.domain_id), [8984, 8985]);
  // The other IP keeps its ban.
  assert.deepEqual(
    ((await s.f.call("GET", "/bans")).body.data as { ip: string }[]).map((b) => b.ip),
    [SCAN],
  );

  // With --domain, only there; --json says what was removed where.
  await s.f.feed(BAD, {}, 8984);
  await s.f.feed(BAD, {}, 8985);
  const json = captured(s.f.clock.t);
  assert.equal(
    await bansCommand(["del", BAD, "--domain", "8985", "--json", "--api", s.api], json),
    0,
  );
  assert.deepEqual(JSON.parse(json.stdout), {
    ip: BAD,
    removed: 1,
    domains: [{ domain_id: 8985, removed: 1 }],
  });
  assert.deepEqual(
    ((await s.f.call("GET", "/bans")).body.data as { domain_id: number; ip: string }[])
      .map((b) => `${b.domain_id} ${b.ip}`),
    [`8984 ${SCAN}`, `8984 ${BAD}`],
  );
});

Deno.test("bansCommand() API refusals are one line on stderr with exit 1", async () => {
  await using s = await servedFixture({ token: "s3cret" });
  const cases: [string[], RegExp][] = [
    [["list"], /^qts bans: GET \/bans: HTTP 401: the API wants a token \(give .*--token/],
    [["list", "--token", "nope"], /^qts bans: GET \/bans: HTTP 401: the API refused the token/],
    [
      ["show", "1.2.3", "--token", "s3cret"],
      /^qts bans: GET \/ips\/1\.2\.3: HTTP 400: "1\.2\.3" is not an IP address\n$/,
    ],
    [
      ["del", BAD, "--domain", "8984", "--token", "s3cret"],
      /^qts bans: DELETE \/bans\/8984\/198\.51\.100\.9: HTTP 400: no active ban for 198\.51\.100\.9 in domain 8984\n$/,
    ],
    [
      ["del", BAD, "--token", "s3cret"],
      /^qts bans: no active ban for 198\.51\.100\.9 in any domain\n$/,
    ],
    [
      ["list", "--domain", "77", "--token", "s3cret"],
      /^qts bans: GET \/bans\/77: HTTP 400: unknown domain 77\n$/,
    ],
  ];
  for (const [args, error] of cases) {
    const io = captured(s.f.clock.t);
    assert.equal(await bansCommand([...args, "--api", s.api], io), 1, args.join(" "));
    assert.equal(io.stdout, "");
    assert.equal(io.stderr.split("\n").length, 2, io.stderr);
    assert.match(io.stderr, error);
  }
  // The token from a file (its first line).
  const file = join(s.f.dir, "token");
  await Deno.writeTextFile(file, "s3cret\n");
  const io = captured(s.f.clock.t);
  assert.equal(await bansCommand(["--token-file", file, "--api", s.api], io), 0);
  assert.equal(io.stdout, "no active bans\n");
});

Deno.test("bansCommand() with no sensor listening is one line on stderr with exit 1", async () => {
  const port = freePort();
  const io = captured(0);
  assert.equal(await bansCommand(["--api", `http://127.0.0.1:${port}`], io), 1);
  assert.match(
    io.stderr,
    new RegExp(`^qts bans: cannot reach the qts API at http://127\\.0\\.0\\.1:${port}: .+\\n$`),
  );
  assert.ok(!io.stderr.includes("    at "), io.stderr);
});

Deno.test("bansCommand() usage errors exit 2 with the usage, --help exits 0", async () => {
  const cases: [string[], RegExp][] = [
    [["frob"], /unknown action "frob" \(list, show or del\)/],
    [["show"], /"show" needs an IP/],
    [["del"], /"del" needs an IP/],
    [["list", "1.2.3.4"], /"list" takes no IP/],
    [["show", "1.2.3.4", "extra"], /unexpected argument "extra"/],
    [["--domain", "abc"], /--domain "abc" is not a domain id/],
    [["--api", "not a url"], /--api "not a url" is not a URL/],
    [["--api", "ftp://x"], /is not an http:\/\/ or https:\/\/ URL/],
    [["--token", "a", "--token-file", "b"], /give --token or --token-file, not both/],
    [["--token-file", "/nonexistent/qts-token"], /--token-file \/nonexistent\/qts-token: /],
  ];
  for (const [args, error] of cases) {
    const io = captured(0);
    assert.equal(await bansCommand(args, io), 2, args.join(" "));
    assert.match(io.stderr, error);
    assert.match(io.stderr, /Usage: qts bans/);
  }
  // parseCommandLine's own (on the console): an unknown option exits 2, --help 0.
  const { log, error } = console;
  let printed = "";
  console.log = console.error = (text: string) => void (printed += text);
  try {
    assert.equal(await bansCommand(["--no-such-flag"], captured(0)), 2);
    assert.match(printed, /Unknown option '--no-such-flag'[^]*Usage: qts bans/);
    printed = "";
    assert.equal(await bansCommand(["--help"], captured(0)), 0);
    assert.match(printed, /^Usage: qts bans/);
  } finally {
    Object.assign(console, { log, error });
  }
});

Deno.test("ApiClient names a sensor that does not answer in time", async () => {
  const hold = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await hold.promise;
    return new Response("{}");
  });
  try {
    const client = new ApiClient({
      api: `http://127.0.0.1:${server.addr.port}`,
      token: "",
      timeoutMs: 50,
    });
    await assert.rejects(
      client.data("GET", "/bans"),
      /^ApiCallError: cannot reach .*: no answer within 0\.05 s$/,
    );
  } finally {
    hold.resolve();
    await server.shutdown();
  }
});

Deno.test("table() aligns columns, right-aligns numbers and cuts the last column", () => {
  assert.deepEqual(
    table([["a", "1", "long text here"], ["bbb", "100", "x"]], {
      header: ["NAME", "N", "NOTE"],
      right: [1],
      width: 20,
    }),
    ["NAME    N  NOTE", "a       1  long tex…", "bbb   100  x"],
  );
  assert.equal(cut("abcdef", 4), "abc…");
  assert.equal(printable("a\x1b[0m\u202eb\n"), "a\\x1b[0m\\u202eb\\x0a");
});

Deno.test("formatExplanation() words a ban without a threshold and one without evidence", () => {
  const base = {
    domain_id: 1,
    ip: "2001:db8:a:b::/64",
    rule_name: "r",
    comment: "c",
    added_at: 0,
    expires_at: 3_600_000,
    projection: "p",
    simulated: true,
    reason: "activation",
    events: 0,
  };
  const text = formatExplanation({
    ip: "2001:db8:a:b::1",
    bans: [
      {
        ...base,
        evidence: {
          projection: "p",
          mode: "watch",
          reason: "activation",
          threshold: null,
          events: {},
          count: 0,
          first_at: 0,
          last_at: 0,
          samples: [],
        },
      },
      { ...base, simulated: false, evidence: null },
    ],
    history: [],
  }, { now: 60_000, width: 100 });
  assert.match(text, /^2001:db8:a:b::1: 2 active bans\n/);
  assert.match(text, /domain 1 {2}2001:db8:a:b::\/64 {2}r {2}SIMULATED/);
  assert.match(text, /threshold {3}none: the projection turned to block and banned every IP/);
  assert.match(text, /events {6}none recorded \(count 0\)/);
  assert.match(text, /evidence {4}not recorded/);
  assert.match(text, /expires {5}1970-01-01T01:00:00Z \(in 59 min\)/);
  assert.ok(!text.includes("history"));
});

Deno.test("formatExplanation() says since when and why an auto projection was blocking", () => {
  const evidence = {
    projection: "location_rate",
    mode: "block",
    reason: "evidence" as const,
    threshold: { events: 10, window: 60 },
    mode_change: { at: 90_000, from: "nursery", why: "nursery", events: 412, ips: 57 },
    events: { "loc_rate_def1_GET/": 12 },
    count: 12,
    first_at: 100_000,
    last_at: 130_000,
    samples: [],
  };
  const ban = {
    domain_id: 8984,
    ip: "192.0.2.20",
    rule_name: "tsng.location_rate",
    comment: "loc_rate_def1_GET/",
    added_at: 130_000,
    expires_at: 3_730_000,
    projection: "location_rate",
    simulated: false,
    reason: "evidence",
    events: 12,
    evidence,
  };
  const text = formatExplanation({ ip: "192.0.2.20", bans: [ban], history: [] }, {
    now: 131_000,
    width: 120,
  });
  assert.match(
    text,
    /\n {2}mode since {2}1970-01-01T00:01:30Z, from nursery: its nursery threshold was reached, 412 events from 57 sources in a 30 s window\n/,
  );
  const cooled = formatExplanation({
    ip: "192.0.2.20",
    bans: [{
      ...ban,
      evidence: { ...evidence, mode_change: { ...evidence.mode_change, why: "cooldown" } },
    }],
    history: [],
  }, { now: 131_000, width: 120 });
  assert.match(cooled, /from nursery: no event for its cooldown\n/);
});

// ---- end to end: a real `qts serve`, its ban log line, GET /bans/<d>/<ip>, `qts bans show` ----

Deno.test({
  name: "qts bans show names the projection, counts and samples of the ban log line and the API",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-bans-e2e-" });
    const { ini, input } = await sensorIni(dir, "s1", evidenceDomain());
    const sensor = await startSensor(ini);
    const push = new PushSocket();
    try {
      push.connect(`tcp://127.0.0.1:${input}`);
      const at = Date.now() / 1000;
      const requests = [
        { method: "POST", url: "/login", status: 401, ua: "curl/8.0" },
        { method: "GET", url: "/.env", status: 404, ua: "python-requests/2.31" },
        { method: "POST", url: "/login?u=admin", status: 401, ua: "Go-http-client/1.1" },
      ];
      for (const [i, r] of requests.entries()) {
        await push.send([
          encodeHeader(DOMAIN),
          encodeRecord({
            ...emptyRecord(),
            timestamp: Math.floor(at),
            msec: (at + i / 1000).toFixed(3),
            remote_ip: parseIPv4(BAD)!,
            method: r.method,
            url: r.url,
            host: "shop.example",
            status: r.status,
            http_user_agent: r.ua,
          }),
        ]);
      }
      // The list manager's one line for the add, with its evidence.
      const line = await waitFor(
        "the ban log line",
        () => sensor.logs.find((l) => l.msg === `lm: ban ${BAD}`),
      ) as {
        domain: number;
        ip: string;
        rule_name: string;
        projection: string;
        evidence: {
          projection: string;
          mode: string;
          reason: string;
          threshold: { events: number; window: number };
          events: Record<string, number>;
          count: number;
          samples: { method: string; host: string; url: string; status: number; ua: string }[];
        };
      };
      assert.equal(line.projection, "bad");
      assert.equal(line.evidence.projection, "bad");
      assert.equal(line.evidence.reason, "evidence");
      assert.deepEqual(line.evidence.threshold, { events: 3, window: 60 });
      assert.equal(line.evidence.count, 3);
      assert.deepEqual(line.evidence.events, { fixed_bad: 3 });
      assert.deepEqual(
        line.evidence.samples,
        requests.map((r) => ({
          method: r.method,
          host: "shop.example",
          url: r.url,
          status: r.status,
          ua: r.ua,
        })),
      );

      // GET /bans/<domain>/<ip>: the same projection, counts and samples.
      const answer = await (await fetch(`${sensor.api}/bans/${DOMAIN}/${BAD}`)).json();
      const [ban] = answer.data.bans;
      assert.equal(answer.data.bans.length, 1);
      assert.equal(ban.projection, line.projection);
      assert.equal(ban.rule_name, line.rule_name);
      assert.equal(ban.events, line.evidence.count);
      assert.deepEqual(ban.evidence, line.evidence);

      // `qts bans show IP`, in process: the same again, as people read it.
      const io = captured(Date.now());
      assert.equal(await bansCommand(["show", BAD, "--api", sensor.api], io), 0);
      const text = io.stdout;
      assert.match(
        text,
        new RegExp(`\\n  projection  ${line.projection}, mode block, reason evidence\\n`),
      );
      assert.match(text, /\n {2}threshold {3}3 events within 60 s\n/);
      assert.match(
        text,
        new RegExp(
          `\\n  events      fixed_bad ${line.evidence.count} \\(count ${line.evidence.count}\\)\\n`,
        ),
      );
      for (const s of line.evidence.samples) {
        const cells = [s.method, s.host, s.url, String(s.status), s.ua].map((c) =>
          c.replace(/[.?/]/g, "\\$&")
        );
        assert.match(text, new RegExp(`\\n {14}${cells.join("\\s+")}\\n`));
      }

      // The binary's way: `qts bans show IP --json` through main.ts prints the API's data.
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          // main.ts loads check-config's modules (re2-wasm reads its .wasm) at start.
          "--allow-read",
          MAIN,
          "bans",
          "show",
          BAD,
          "--json",
          "--api",
          sensor.api,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
      const shown = JSON.parse(new TextDecoder().decode(child.stdout));
      assert.deepEqual(shown.bans[0].evidence, line.evidence);

      // And `qts bans del IP` lifts it: the unban line follows.
      const del = captured(Date.now());
      assert.equal(await bansCommand(["del", BAD, "--api", sensor.api], del), 0);
      assert.equal(del.stdout, `${BAD}: lifted 1 ban in domain ${DOMAIN}\n`);
      await waitFor(
        "the unban log line",
        () => sensor.logs.find((l) => l.msg === `lm: unban ${BAD}`),
      );
    } finally {
      await push.close();
      await sensor.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
