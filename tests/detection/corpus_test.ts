import assert from "node:assert/strict";
import {
  ATTACK_CLASSES,
  BENIGN_CLASSES,
  type ClassTruth,
  generateCorpus,
  IPV6_ROTATION_PREFIX,
  type Truth,
} from "../../scripts/detection/generate_corpus.ts";
import {
  type CommandLike,
  parseCommands,
  parseNet,
  scoreDetection,
} from "../../scripts/detection/score_detection.ts";

// An nginx `combined` line as the corpus promises it: `$remote_addr - - [$time_local]
// "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`, UTC, with nginx's
// \xHH escaping inside quoted values and nothing after the user agent.
const COMBINED =
  /^(\S+) - - \[(\d{2})\/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) \+0000\] "([A-Z]+) (\S+) (HTTP\/1\.1|HTTP\/2\.0)" (\d{3}) (\d+) "((?:[^"\\]|\\x[0-9A-F]{2})*)" "((?:[^"\\]|\\x[0-9A-F]{2})*)"$/;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const STATIC = /\.(css|js|webp|woff2|svg|ico|png)$/;

interface Entry {
  ip: string;
  t: number;
  method: string;
  path: string;
  status: number;
  referer: string;
  ua: string;
}

function parseLine(line: string): Entry | undefined {
  const m = COMBINED.exec(line);
  if (!m) return undefined;
  const t = Date.UTC(
    Number(m[4]),
    MONTHS.indexOf(m[3]!),
    Number(m[2]),
    Number(m[5]),
    Number(m[6]),
    Number(m[7]),
  ) / 1000;
  return {
    ip: m[1]!,
    t,
    method: m[8]!,
    path: m[9]!,
    status: Number(m[11]),
    referer: m[13]!,
    ua: m[14]!,
  };
}

// The default corpus, generated once for the tests that read it.
const corpus = generateCorpus();
const entries = corpus.lines.map((line) => parseLine(line));

/** The truth source a log address belongs to (an address or the prefix holding it). */
function sourceIndex(
  truth: Truth,
): (ip: string) => { cls: ClassTruth; source: string } | undefined {
  const exact = new Map<string, { cls: ClassTruth; source: string }>();
  const prefixes: {
    cls: ClassTruth;
    source: string;
    net: NonNullable<ReturnType<typeof parseNet>>;
  }[] = [];
  for (const cls of truth.classes) {
    for (const s of cls.sources) {
      if (s.source.includes("/")) {
        prefixes.push({ cls, source: s.source, net: parseNet(s.source)! });
      } else exact.set(s.source, { cls, source: s.source });
    }
  }
  return (ip) => {
    const hit = exact.get(ip);
    if (hit !== undefined) return hit;
    const net = parseNet(ip);
    if (net === undefined) return undefined;
    return prefixes.find((p) => {
      const width = p.net.v6 ? 128 : 32;
      const shift = BigInt(width - p.net.bits);
      return p.net.v6 === net.v6 && p.net.value >> shift === net.value >> shift;
    });
  };
}

const lookup = sourceIndex(corpus.truth);
/** Log entries per class, per truth source. */
const byClass = new Map<string, Map<string, Entry[]>>();
for (const e of entries) {
  if (e === undefined) continue;
  const hit = lookup(e.ip);
  if (hit === undefined) continue;
  const sources = byClass.get(hit.cls.name) ?? new Map<string, Entry[]>();
  byClass.set(hit.cls.name, sources);
  const list = sources.get(hit.source);
  if (list === undefined) sources.set(hit.source, [e]);
  else list.push(e);
}

function sourcesOf(name: string): Entry[][] {
  return [...(byClass.get(name)?.values() ?? [])];
}

/** Requests per second over the source's active log seconds. */
function rate(list: readonly Entry[]): number {
  return list.length / (list[list.length - 1]!.t - list[0]!.t + 1);
}

function perSecond(list: readonly Entry[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const e of list) counts.set(e.t, (counts.get(e.t) ?? 0) + 1);
  return counts;
}

function share(list: readonly Entry[], pick: (e: Entry) => boolean): number {
  return list.filter(pick).length / list.length;
}

function isPage(e: Entry): boolean {
  return !STATIC.test(e.path.split("?")[0]!) && !e.path.startsWith("/api/");
}

Deno.test("generateCorpus() is deterministic for a seed", () => {
  const again = generateCorpus();
  assert.deepEqual(again.lines, corpus.lines);
  assert.deepEqual(again.truth, corpus.truth);
  const other = generateCorpus({ seed: 2, scale: 0.1 });
  assert.notDeepEqual(other.lines.slice(0, 100), corpus.lines.slice(0, 100));
});

Deno.test("generateCorpus() writes combined lines sorted by time within the span", () => {
  const bad = corpus.lines.filter((_, i) => entries[i] === undefined);
  assert.deepEqual(bad.slice(0, 3), []);
  assert.ok(
    corpus.lines.length >= 150_000 && corpus.lines.length <= 450_000,
    `${corpus.lines.length} lines`,
  );
  assert.equal(corpus.truth.lines, corpus.lines.length);
  let previous = -Infinity;
  for (const e of entries) {
    assert.ok(e!.t >= previous, "lines are sorted by time");
    previous = e!.t;
  }
  const { start, span } = corpus.truth;
  assert.equal(entries[0]!.t >= start && previous < start + span, true);
  assert.equal(corpus.lines[0]!.includes("[02/Nov/2026:10:00:"), true);
});

Deno.test("generateCorpus() ground truth covers every address in the log, exactly", () => {
  const seen = new Map<
    string,
    { first: number; last: number; requests: number; addresses: Set<string> }
  >();
  for (const e of entries) {
    const hit = lookup(e!.ip);
    assert.ok(hit !== undefined, `${e!.ip} is not in the truth`);
    const s = seen.get(hit.source) ??
      { first: e!.t, last: e!.t, requests: 0, addresses: new Set() };
    s.last = e!.t;
    s.requests++;
    s.addresses.add(e!.ip);
    seen.set(hit.source, s);
  }
  for (const cls of corpus.truth.classes) {
    assert.ok(cls.sources.length > 0, `${cls.name} has sources`);
    assert.equal(cls.lines, cls.sources.reduce((n, s) => n + s.requests, 0));
    for (const s of cls.sources) {
      const got = seen.get(s.source);
      assert.ok(got !== undefined, `${s.source} appears in the log`);
      assert.equal(s.first, got.first, `${s.source} first`);
      assert.equal(s.last, got.last, `${s.source} last`);
      assert.equal(s.requests, got.requests, `${s.source} requests`);
      if (s.addresses !== undefined) assert.equal(s.addresses, got.addresses.size);
    }
  }
  assert.equal(seen.size, corpus.truth.classes.reduce((n, c) => n + c.sources.length, 0));
});

Deno.test("generateCorpus() keeps benign and attack sources disjoint", () => {
  const kinds = { attack: [] as string[], benign: [] as string[] };
  for (const cls of corpus.truth.classes) kinds[cls.kind].push(...cls.sources.map((s) => s.source));
  const attack = new Set(kinds.attack);
  for (const ip of kinds.benign) assert.ok(!attack.has(ip), `${ip} is both`);
  const prefix = parseNet(IPV6_ROTATION_PREFIX)!;
  for (const ip of kinds.benign) {
    const net = parseNet(ip)!;
    assert.ok(
      !(net.v6 && net.value >> 64n === prefix.value >> 64n),
      `${ip} inside the attacker's /64`,
    );
  }
  assert.deepEqual(
    corpus.truth.classes.map((c) => c.name),
    [...ATTACK_CLASSES, ...BENIGN_CLASSES],
  );
  for (const cls of corpus.truth.classes) {
    assert.equal(
      cls.kind,
      (ATTACK_CLASSES as readonly string[]).includes(cls.name) ? "attack" : "benign",
    );
    assert.equal(cls.target !== undefined, cls.kind === "attack");
  }
});

Deno.test("generateCorpus() attack classes have their advertised rates", () => {
  const flood = sourcesOf("flood");
  assert.equal(flood.length, 3);
  for (const list of flood) {
    const seconds = perSecond(list);
    assert.ok(seconds.size >= 58 && seconds.size <= 62, `flood lasts ${seconds.size} s`);
    const full = [...seconds].slice(1, -1);
    assert.ok(full.every(([, n]) => n >= 50), "≥ 50 GET/s every second");
    assert.ok(list.every((e) => e.method === "GET" && e.status === 200));
  }

  const scanner = sourcesOf("scanner");
  assert.equal(scanner.length, 10);
  for (const list of scanner) {
    assert.ok(rate(list) >= 0.8 && rate(list) <= 5.5, `scanner ${rate(list)}/s`);
  }
  const scans = scanner.flat();
  assert.ok(share(scans, (e) => e.status === 404) >= 0.6, "mostly 404");
  assert.ok(scans.some((e) => e.status === 403) && scans.some((e) => e.status === 301));
  const tools = scanner.filter((l) => /sqlmap|Nikto|Nuclei|zgrab|masscan/.test(l[0]!.ua)).length;
  assert.ok(tools >= 5 && tools <= 7, `${tools} scanners with a tool UA`);
  const paths = new Set(scans.map((e) => e.path));
  for (
    const p of [
      "/.env",
      "/.git/config",
      "/.git/HEAD",
      "/wp-login.php",
      "/db.sql",
      "/.aws/credentials",
    ]
  ) {
    assert.ok(paths.has(p), `scanners ask for ${p}`);
  }
  assert.ok(
    scans.some((e) => e.path.includes("etc/passwd")) &&
      scans.some((e) => e.path.includes("<script>")),
  );

  const stuffing = sourcesOf("credential_stuffing");
  assert.equal(stuffing.length, 20);
  for (const list of stuffing) {
    assert.ok(list.every((e) => e.method === "POST" && e.path === "/login"));
    assert.ok(rate(list) >= 0.8 && rate(list) <= 6.5, `stuffing ${rate(list)}/s`);
    const span = list[list.length - 1]!.t - list[0]!.t;
    assert.ok(span >= 100 && span <= 140, `stuffing runs ${span} s`);
  }
  const attempts = stuffing.flat();
  const failed = share(attempts, (e) => e.status === 401);
  assert.ok(
    failed >= 0.9 && failed <= 0.99 && attempts.some((e) => e.status === 200),
    `${failed} 401`,
  );
  const starts = stuffing.map((l) => l[0]!.t);
  assert.ok(Math.max(...starts) - Math.min(...starts) >= 60, "staggered starts");

  const brute = sourcesOf("brute_force");
  assert.equal(brute.length, 3);
  for (const list of brute) {
    assert.equal(list.length, 60);
    for (let i = 1; i < list.length; i++) assert.equal(list[i]!.t - list[i - 1]!.t, 10);
    assert.ok(list.every((e) => e.method === "POST" && (e.status === 401 || e.status === 403)));
  }
  assert.deepEqual(
    new Set(brute.map((l) => l[0]!.path)),
    new Set(["/wp-login.php", "/login", "/user/login"]),
  );

  const botnet = sourcesOf("login_botnet");
  assert.equal(botnet.length, 300);
  for (const list of botnet) {
    for (let i = 1; i < list.length; i++) {
      const gap = list[i]!.t - list[i - 1]!.t;
      assert.ok(gap >= 19 && gap <= 31, `botnet gap ${gap}`);
    }
    const span = list[list.length - 1]!.t - list[0]!.t;
    assert.ok(span >= 420 && span <= 500, `botnet member runs ${span} s`);
    assert.ok(list.every((e) => e.method === "POST" && e.path === "/login" && e.status === 401));
  }

  const fast = sourcesOf("login_flood_fast");
  assert.equal(fast.length, 20);
  for (const list of fast) {
    assert.equal(list.length, 600);
    assert.ok(perSecond(list).size >= 60 && perSecond(list).size <= 61);
    assert.ok(list.every((e) => e.method === "POST" && e.path === "/login" && e.status === 401));
  }

  const rotation = sourcesOf("ua_rotation");
  assert.equal(rotation.length, 5);
  for (const list of rotation) {
    assert.ok(rate(list) >= 1.8 && rate(list) <= 3.2, `ua_rotation ${rate(list)}/s`);
    assert.ok(
      new Set(list.map((e) => e.ua)).size / list.length >= 0.85,
      "a new UA nearly every request",
    );
    assert.ok(list.every((e) => e.method === "GET" && e.path.startsWith("/products")));
  }

  const v6 = corpus.truth.classes.find((c) => c.name === "ipv6_rotation")!;
  assert.deepEqual(v6.sources.map((s) => s.source), [IPV6_ROTATION_PREFIX]);
  const [rotating] = sourcesOf("ipv6_rotation");
  assert.ok(rotating !== undefined);
  assert.ok(
    new Set(rotating.map((e) => e.ip)).size >= 0.95 * rotating.length,
    "a new address per request",
  );
  assert.ok(rate(rotating) >= 2.5 && rate(rotating) <= 3.5, `ipv6_rotation ${rate(rotating)}/s`);
  assert.ok(share(rotating, (e) => e.status === 401) >= 0.85);

  // Each bot under the flood rate (and over def1's 2 a second), on one of three targets.
  const bots = sourcesOf("http_botnet");
  assert.equal(bots.length, 200);
  for (const list of bots) {
    assert.ok(rate(list) >= 2.6 && rate(list) <= 9, `http_botnet ${rate(list)}/s`);
    assert.ok(Math.max(...perSecond(list).values()) <= 15, "never a flood alone");
    const span = list[list.length - 1]!.t - list[0]!.t;
    assert.ok(span >= 115 && span <= 155, `bot runs ${span} s`);
    assert.equal(new Set(list.map((e) => e.ua)).size, 1, "one UA per bot");
    assert.ok(list.every((e) => e.method === "GET" && e.status === 200 && isPage(e)));
  }
  const targets = (list: Entry[]): string =>
    list.every((e) => e.path === "/")
      ? "home"
      : list.every((e) => e.path.startsWith("/?"))
      ? "cache buster"
      : "pages";
  const kinds = Map.groupBy(bots, targets);
  for (const kind of ["home", "cache buster", "pages"]) {
    assert.ok((kinds.get(kind)?.length ?? 0) >= 60, `${kind}: ${kinds.get(kind)?.length}`);
  }

  const soft = sourcesOf("soft_stuffing");
  assert.equal(soft.length, 10);
  for (const list of soft) {
    assert.ok(rate(list) >= 0.8 && rate(list) <= 6.5, `soft_stuffing ${rate(list)}/s`);
    assert.ok(list.every((e) => e.method === "POST" && e.path === "/login" && e.status === 200));
  }
});

Deno.test("generateCorpus() benign classes behave as advertised", () => {
  const browsing = sourcesOf("browsing");
  assert.ok(browsing.length >= 1800 && browsing.length <= 2000, `${browsing.length} visitors`);
  for (const list of browsing) {
    assert.equal(new Set(list.map((e) => e.ua)).size, 1, "one UA per visitor");
  }
  const visits = browsing.flat();
  assert.ok(visits.some((e) => e.status === 404) && visits.some((e) => e.status === 304));
  assert.ok(browsing.some((l) => l[0]!.ip.includes(":")), "some visitors over IPv6");
  assert.ok(
    browsing.some((l) => {
      const logins = l.filter((e) => e.method === "POST" && e.path === "/login").map((e) =>
        e.status
      );
      return logins.join() === "401,200";
    }),
    "a visitor mistypes a password once",
  );

  const nat = sourcesOf("nat_gateway");
  assert.equal(nat.length, 3);
  for (const list of nat) {
    assert.equal(new Set(list.map((e) => e.ua)).size, 60);
    assert.ok(rate(list) >= 2, `nat ${rate(list)}/s`);
  }

  const crawler = sourcesOf("crawler");
  assert.ok(crawler.length >= 2);
  for (const list of crawler) {
    const ua = list[0]!.ua;
    if (ua.includes("Googlebot")) assert.ok(list[0]!.ip.startsWith("66.249.66."));
    else assert.ok(ua.includes("bingbot") && list[0]!.ip.startsWith("157.55.39."));
    assert.ok(Math.max(...perSecond(list).values()) <= 5, "≤ 5 req/s");
    assert.equal(list[0]!.path, "/robots.txt");
  }
  assert.ok(crawler.flat().some((e) => e.status === 404));

  const health = sourcesOf("health_check");
  assert.equal(health.length, 3);
  for (const list of health) {
    assert.ok(/^(10\.|192\.168\.)/.test(list[0]!.ip));
    assert.ok(
      list.every((e) => e.path === "/healthz" && e.status === 200 && /kube-probe|ELB/.test(e.ua)),
    );
    const gap = (list[list.length - 1]!.t - list[0]!.t) / (list.length - 1);
    assert.ok(gap >= 1 && gap <= 2, `probe every ${gap} s`);
  }

  const api = sourcesOf("api_client");
  assert.ok(api.length >= 2);
  for (const list of api) {
    assert.ok(Math.max(...perSecond(list).values()) <= 1, "≤ 1 req/s");
    assert.ok(list.every((e) => e.path.startsWith("/api/") && e.status === 200));
  }

  const power = sourcesOf("power_user");
  assert.equal(power.length, 1);
  const pages = perSecond(power[0]!.filter(isPage));
  const window = (from: number, width: number) => {
    let n = 0;
    for (let t = from; t < from + width; t++) n += pages.get(t) ?? 0;
    return n;
  };
  const times = [...pages.keys()];
  assert.ok(times.some((t) => window(t, 3) >= 20), "20 tabs in 2 s");
  assert.ok(times.every((t) => window(t, 60) <= 45), "never sustained");
});

Deno.test("generateCorpus() runs one attack class over the whole benign background", () => {
  const one = generateCorpus({ class: "flood", scale: 0.2 });
  assert.deepEqual(one.truth.classes.map((c) => c.name), ["flood", ...BENIGN_CLASSES]);
  const floodLines = (lines: string[]) => lines.filter((l) => l.startsWith("203.0.113.1"));
  assert.deepEqual(floodLines(one.lines), floodLines(corpus.lines), "the same attack as in mixed");
  assert.deepEqual(generateCorpus({ class: "crawler" }).truth.classes.map((c) => c.name), [
    "crawler",
  ]);
  assert.throws(() => generateCorpus({ class: "nope" }), /unknown class/);
});

// Scorer: a hand-made truth and hand-made commands.

const TRUTH: Truth = {
  format: "qts-detection-corpus/1",
  seed: 1,
  selection: "mixed",
  start: 1000,
  span: 600,
  scale: 1,
  lines: 0,
  classes: [
    {
      name: "flood",
      kind: "attack",
      description: "",
      target: { seconds: 10, share: 1 },
      lines: 0,
      sources: [
        { source: "203.0.113.1", first: 1010, last: 1100, requests: 10 },
        { source: "203.0.113.2", first: 1020, last: 1100, requests: 10 },
      ],
    },
    {
      name: "ipv6_rotation",
      kind: "attack",
      description: "",
      target: { seconds: 30, share: 1 },
      lines: 0,
      sources: [{
        source: "2001:db8:a:b::/64",
        first: 1030,
        last: 1200,
        requests: 10,
        addresses: 10,
      }],
    },
    {
      name: "browsing",
      kind: "benign",
      description: "",
      lines: 0,
      sources: [
        { source: "198.18.0.1", first: 1000, last: 1300, requests: 5 },
        { source: "2001:db8:100:1:2:3:4:5", first: 1000, last: 1300, requests: 5 },
      ],
    },
  ],
};

function add(ip_addr: string, timestamp: number, rule_name = "tsng.test"): CommandLike {
  return { method: "add", ip_addr, timestamp, rule_name, comment: "test_event", domain_id: 8984 };
}

function classScore(commands: CommandLike[], name: string) {
  const score = scoreDetection(TRUTH, commands);
  return { score, cls: score.classes.find((c) => c.name === name)! };
}

Deno.test("scoreDetection() does not count a ban before the source's first request", () => {
  let { score, cls } = classScore([add("203.0.113.2", 1015)], "flood");
  assert.equal(cls.banned, 0);
  assert.equal(cls.missed, 2);
  assert.equal(score.earlyAdds, 1);
  assert.deepEqual(score.unknownAdds, []);
  ({ cls } = classScore([add("203.0.113.2", 1015), add("203.0.113.2", 1026)], "flood"));
  assert.equal(cls.banned, 1);
  assert.deepEqual(cls.timeToBan, [6]);
});

Deno.test("scoreDetection() takes time to ban from the first add after the first request", () => {
  const { cls } = classScore([
    add("203.0.113.1", 1018),
    add("203.0.113.1", 1014.5),
    { ...add("203.0.113.2", 1050), domain_id: 1 }, // any domain counts
    { ...add("203.0.113.2", 1021), method: "del" },
  ], "flood");
  assert.equal(cls.banned, 2);
  assert.deepEqual(cls.timeToBan, [4.5, 30]);
  assert.equal(cls.median, 17.25);
  assert.equal(cls.max, 30);
  assert.equal(cls.withinTarget, 1);
  assert.equal(cls.targetHolds, false);
  const both = classScore([add("203.0.113.1", 1010), add("203.0.113.2", 1030)], "flood").cls;
  assert.equal(both.targetHolds, true);
  assert.deepEqual(both.timeToBan, [0, 10]);
});

Deno.test("scoreDetection() counts any add for a benign source as a false ban", () => {
  const { score, cls } = classScore([
    add("198.18.0.1", 1100, "tsng.many_uas"),
    add("2001:db8:100:1::/64", 1200, "tsng.prefix"),
    add("192.0.2.99", 1100),
  ], "browsing");
  assert.equal(cls.falseBans, 2);
  assert.equal(cls.targetHolds, false);
  assert.equal(score.falseBans, 2);
  assert.deepEqual(cls.bans.map((b) => [b.source, b.command.rule_name]), [
    ["198.18.0.1", "tsng.many_uas"],
    ["2001:db8:100:1:2:3:4:5", "tsng.prefix"],
  ]);
  assert.deepEqual(score.unknownAdds.map((c) => c.ip_addr), ["192.0.2.99"]);
  assert.equal(score.classes.find((c) => c.name === "flood")!.falseBans, 0);
});

Deno.test("scoreDetection() bans an IPv6 /64 source through any address or the prefix", () => {
  for (
    const ip of [
      "2001:db8:a:b:1234:5678:9abc:def0",
      "2001:DB8:A:B::1",
      "2001:db8:a:b::/64",
      "2001:db8:a::/48",
    ]
  ) {
    const { cls } = classScore([add(ip, 1040)], "ipv6_rotation");
    assert.equal(cls.banned, 1, ip);
    assert.deepEqual(cls.timeToBan, [10]);
    assert.equal(cls.targetHolds, true);
  }
  const { score, cls } = classScore([
    add("2001:db8:a:c::1", 1040),
    add("2001:db8:a:b:8000::/65", 1020),
  ], "ipv6_rotation");
  assert.equal(cls.banned, 0);
  assert.equal(score.earlyAdds, 1);
  assert.deepEqual(score.unknownAdds.map((c) => c.ip_addr), ["2001:db8:a:c::1"]);
});

Deno.test("parseNet() reads IPv4, IPv6, prefixes and IPv4-mapped addresses", () => {
  assert.deepEqual(parseNet("192.0.2.1"), { v6: false, value: 0xc0000201n, bits: 32 });
  assert.deepEqual(parseNet("::ffff:192.0.2.1"), { v6: false, value: 0xc0000201n, bits: 32 });
  assert.deepEqual(parseNet("2001:db8::/32"), { v6: true, value: 0x20010db8n << 96n, bits: 32 });
  assert.equal(parseNet("2001:db8::1::2"), undefined);
  assert.equal(parseNet("256.1.1.1"), undefined);
  assert.equal(parseNet("example.com"), undefined);
});

Deno.test("parseCommands() reads the JSON lines of qts replay and skips the rest", () => {
  const stdout = [
    '{"domain_id":8984,"comment":"many_uas","rule_name":"tsng.many_uas","method":"add","ip_addr":"192.0.2.10","geo":"","timestamp":1793613743.0,"timeout":3600,"worker":"wrk_1","broadcast":false,"hoplite":"h"}',
    "not json",
    "{broken",
    "",
  ].join("\n");
  assert.deepEqual(parseCommands(stdout), [{
    method: "add",
    ip_addr: "192.0.2.10",
    timestamp: 1793613743,
    rule_name: "tsng.many_uas",
    comment: "many_uas",
    domain_id: 8984,
  }]);
});
