import assert from "node:assert/strict";
import {
  trustedSources,
  type TrustedSourcesInstance,
} from "../../../src/sensor/filters/trusted_sources.ts";
import { arpaName } from "../../../src/sensor/filters/_crawler_verifier.ts";
import type { FilterDeps } from "../../../src/sensor/filters/types.ts";
import {
  COMPONENT_SCHEMAS,
  type TrustedSourcesConfig,
} from "../../../src/shared/config/components.ts";
import { validate } from "../../../src/shared/config/schema.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";

const GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36";
const GOOGLEBOT_IP = "66.249.66.1";
const GOOGLEBOT_PTR = "1.66.249.66.in-addr.arpa";
const GOOGLEBOT_NAME = "crawl-66-249-66-1.googlebot.com";

function config(fields: Partial<TrustedSourcesConfig> = {}): TrustedSourcesConfig {
  return validate(
    COMPONENT_SCHEMAS.trusted_sources,
    fields,
    "trusted_sources",
  ) as TrustedSourcesConfig;
}

type Answer = string[] | "reject" | "hang";

/**
 * A resolver from a map of answers keyed "TYPE name" (absent = no record). "reject" fails like
 * a timeout; "hang" stays pending until `release()`.
 */
class FakeDns {
  readonly answers = new Map<string, Answer>();
  readonly queries: string[] = [];
  readonly #hanging: { resolve: (answers: string[]) => void; reject: (e: Error) => void }[] = [];

  set(type: "PTR" | "A" | "AAAA", name: string, answer: Answer): this {
    this.answers.set(`${type} ${name}`, answer);
    return this;
  }

  readonly resolve = (name: string, type: "PTR" | "A" | "AAAA"): Promise<string[]> => {
    this.queries.push(`${type} ${name}`);
    const answer = this.answers.get(`${type} ${name}`) ?? [];
    if (answer === "reject") {
      return Promise.reject(new DOMException("The operation timed out", "TimeoutError"));
    }
    if (answer === "hang") {
      return new Promise((resolve, reject) => this.#hanging.push({ resolve, reject }));
    }
    return Promise.resolve(answer);
  };

  /** Settles every hanging lookup: with `answers`, or rejecting when none are given. */
  release(answers?: string[]): void {
    for (const pending of this.#hanging.splice(0)) {
      if (answers === undefined) pending.reject(new Error("resolver gone"));
      else pending.resolve(answers);
    }
  }
}

/** A verified Googlebot at GOOGLEBOT_IP. */
function googleDns(): FakeDns {
  return new FakeDns().set("PTR", GOOGLEBOT_PTR, [GOOGLEBOT_NAME]).set("A", GOOGLEBOT_NAME, [
    GOOGLEBOT_IP,
  ]);
}

interface Seen {
  flags: Record<string, boolean>;
  events: string[];
}

function send(
  f: TrustedSourcesInstance,
  ip: string,
  ua: string,
  now = 0,
  phase: "first" | "response" = "first",
): Seen {
  const record = rec({ ip, http_user_agent: ua });
  const ctx = ctxFor(record, now, phase);
  const result = f.run(record, ctx);
  assert.equal(result, undefined, "the filter is synchronous");
  return { flags: Object.fromEntries(ctx.flags), events: ctx.events };
}

const CLAIMED = { flags: { crawler_claimed: true }, events: [] };
const VERIFIED = { flags: { crawler_claimed: true, crawler_verified: true }, events: [] };
const FAKE = { flags: { crawler_claimed: true, crawler_fake: true }, events: ["fake_crawler"] };
const NOTHING = { flags: {}, events: [] };

Deno.test("trustedSources() flags a verified Googlebot crawler_verified", async () => {
  const dns = googleDns();
  const f = await trustedSources(config(), { resolveDns: dns.resolve });
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 1000), CLAIMED, "first: lookup started");
  assert.deepEqual(f.counters(), { verified: 0, fake: 0, unknown: 1, lookups: 1, errors: 0 });
  await f.settled();
  assert.deepEqual(dns.queries, [`PTR ${GOOGLEBOT_PTR}`, `A ${GOOGLEBOT_NAME}`]);
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 2000), VERIFIED);
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 3000), VERIFIED);
  assert.deepEqual(f.counters(), { verified: 2, fake: 0, unknown: 1, lookups: 1, errors: 0 });
});

Deno.test("trustedSources() compares PTR names lowercase without the trailing dot", async () => {
  const dns = new FakeDns().set("PTR", GOOGLEBOT_PTR, ["Crawl-66-249-66-1.GoogleBot.COM."])
    .set("A", GOOGLEBOT_NAME, [GOOGLEBOT_IP]);
  const f = await trustedSources(config(), { resolveDns: dns.resolve });
  send(f, GOOGLEBOT_IP, GOOGLEBOT_UA);
  await f.settled();
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA), VERIFIED);
});

Deno.test("trustedSources() flags crawler_fake and emits fake_crawler when FCrDNS fails", async (t) => {
  const cases: [string, FakeDns][] = [
    [
      "a PTR name that only ends like the suffix",
      new FakeDns().set("PTR", GOOGLEBOT_PTR, ["evilgooglebot.com"])
        .set("A", "evilgooglebot.com", [GOOGLEBOT_IP]),
    ],
    [
      "a matching PTR name whose A records lack the address",
      new FakeDns().set("PTR", GOOGLEBOT_PTR, [GOOGLEBOT_NAME])
        .set("A", GOOGLEBOT_NAME, ["66.249.66.2"]),
    ],
    ["no PTR record", new FakeDns()],
  ];
  for (const [what, dns] of cases) {
    await t.step(what, async () => {
      const f = await trustedSources(config(), { resolveDns: dns.resolve });
      assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA), CLAIMED);
      await f.settled();
      assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA), FAKE);
      assert.deepEqual(f.counters(), { verified: 0, fake: 1, unknown: 1, lookups: 1, errors: 0 });
    });
  }
});

Deno.test("trustedSources() keeps a claim unknown when DNS fails and retries after 60 s", async () => {
  const dns = new FakeDns().set("PTR", GOOGLEBOT_PTR, "reject");
  const logged: [string, string, Record<string, unknown> | undefined][] = [];
  const f = await trustedSources(config(), {
    resolveDns: dns.resolve,
    log: (level, msg, fields) => logged.push([level, msg, fields]),
  });
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 10_000), CLAIMED);
  await f.settled();
  assert.deepEqual(f.counters(), { verified: 0, fake: 0, unknown: 1, lookups: 1, errors: 1 });
  assert.equal(logged.length, 1);
  assert.equal(logged[0]![0], "warn");
  assert.equal(logged[0]![1], "trusted_sources: crawler verification failed");
  assert.equal(logged[0]![2]?.crawler, "googlebot");
  assert.equal(logged[0]![2]?.ip, GOOGLEBOT_IP);

  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 69_999), CLAIMED, "backing off");
  assert.equal(f.counters().lookups, 1, "no new lookup within 60 s of event time");
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 70_000), CLAIMED);
  assert.equal(f.counters().lookups, 2, "a new lookup 60 s after the failed one started");
  await f.settled();
  assert.equal(f.counters().errors, 2);
});

Deno.test("trustedSources() keeps a claim unknown when the forward lookup fails", async () => {
  const dns = new FakeDns().set("PTR", GOOGLEBOT_PTR, [GOOGLEBOT_NAME])
    .set("A", GOOGLEBOT_NAME, "reject");
  const f = await trustedSources(config(), { resolveDns: dns.resolve });
  send(f, GOOGLEBOT_IP, GOOGLEBOT_UA);
  await f.settled();
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 1000), CLAIMED);
  assert.deepEqual(f.counters(), { verified: 0, fake: 0, unknown: 2, lookups: 1, errors: 1 });
});

Deno.test("trustedSources() verifies an IPv6 crawler by AAAA, comparing normalized", async () => {
  const client = "2001:4860:4801:10:0:0:0:1";
  const ptr = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.1.0.8.4.0.6.8.4.1.0.0.2.ip6.arpa";
  const name = "crawl-2001-4860-4801-10--1.googlebot.com";
  const dns = new FakeDns().set("PTR", ptr, [name])
    .set("AAAA", name, ["2001:4860:4801:0010:0000:0000:0000:0001"]);
  const f = await trustedSources(config(), { resolveDns: dns.resolve });
  assert.deepEqual(send(f, client, GOOGLEBOT_UA), CLAIMED);
  await f.settled();
  assert.deepEqual(dns.queries, [`PTR ${ptr}`, `AAAA ${name}`]);
  assert.deepEqual(send(f, "2001:4860:4801:10::1", GOOGLEBOT_UA), VERIFIED, "same address");
});

Deno.test("trustedSources() checks an IPv4-mapped IPv6 client as IPv4", async () => {
  const dns = googleDns();
  const f = await trustedSources(config(), { resolveDns: dns.resolve });
  send(f, `::ffff:${GOOGLEBOT_IP}`, GOOGLEBOT_UA);
  await f.settled();
  assert.deepEqual(dns.queries, [`PTR ${GOOGLEBOT_PTR}`, `A ${GOOGLEBOT_NAME}`]);
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA), VERIFIED);
});

Deno.test("arpaName() writes in-addr.arpa and ip6.arpa names", () => {
  assert.equal(arpaName({ v: 4, n: 0x42f94201 }), GOOGLEBOT_PTR);
  assert.equal(
    arpaName({ v: 6, hex: "20010db8000000000000000000000abc" }),
    "c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
  );
});

Deno.test("trustedSources() does not look up browsers and flags private sources", async () => {
  const dns = googleDns();
  const f = await trustedSources(config(), { resolveDns: dns.resolve });
  assert.deepEqual(send(f, GOOGLEBOT_IP, BROWSER_UA), NOTHING);
  assert.deepEqual(send(f, "10.1.2.3", BROWSER_UA), {
    flags: { private_source: true },
    events: [],
  });
  for (const ip of ["127.0.0.1", "192.168.1.1", "100.64.0.1", "169.254.1.1", "::1", "fd00::1"]) {
    assert.deepEqual(send(f, ip, BROWSER_UA).flags, { private_source: true }, ip);
  }
  assert.deepEqual(
    send(f, "10.1.2.3", GOOGLEBOT_UA).flags,
    { private_source: true, crawler_claimed: true },
    "a private address is not looked up: its PTR proves nothing",
  );
  assert.deepEqual(dns.queries, []);
  assert.equal(f.counters().lookups, 0);

  const off = await trustedSources(config({ private_ranges: false }), { resolveDns: dns.resolve });
  assert.deepEqual(send(off, "10.1.2.3", BROWSER_UA), NOTHING);
});

Deno.test("trustedSources() claims nothing with crawlers off", async () => {
  const dns = googleDns();
  const f = await trustedSources(config({ crawlers: false }), { resolveDns: dns.resolve });
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA), NOTHING);
  assert.deepEqual(dns.queries, []);
});

Deno.test("trustedSources() leaves claims unknown without a resolver", async () => {
  const f = await trustedSources(config());
  for (let i = 0; i < 3; i++) assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, i), CLAIMED);
  await f.settled();
  assert.deepEqual(f.counters(), { verified: 0, fake: 0, unknown: 3, lookups: 0, errors: 0 });
});

Deno.test("trustedSources() starts one lookup per claim while it runs", async () => {
  const dns = new FakeDns().set("PTR", GOOGLEBOT_PTR, "hang").set("A", GOOGLEBOT_NAME, [
    GOOGLEBOT_IP,
  ]);
  const f = await trustedSources(config(), { resolveDns: dns.resolve });
  for (let i = 0; i < 5; i++) assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, i), CLAIMED);
  assert.equal(f.counters().lookups, 1);
  dns.release([GOOGLEBOT_NAME]);
  await f.settled();
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 10), VERIFIED);
});

Deno.test("trustedSources() honours extra_crawlers before the list", async () => {
  const dns = new FakeDns()
    .set("PTR", GOOGLEBOT_PTR, ["bot1.crawl.example.net"])
    .set("A", "bot1.crawl.example.net", [GOOGLEBOT_IP])
    .set("PTR", "2.0.0.203.in-addr.arpa", ["x.example.org"])
    .set("A", "x.example.org", ["203.0.0.2"]);
  const f = await trustedSources(
    config({
      extra_crawlers: ["mybot  MyBot/  .example.org", "ourgoogle googlebot .crawl.example.net"],
    }),
    { resolveDns: dns.resolve },
  );
  send(f, "203.0.0.2", "Mozilla/5.0 (compatible; MYBOT/1.0)");
  send(f, GOOGLEBOT_IP, GOOGLEBOT_UA);
  await f.settled();
  assert.deepEqual(send(f, "203.0.0.2", "Mozilla/5.0 (compatible; MyBot/1.0)"), VERIFIED);
  assert.deepEqual(
    send(f, GOOGLEBOT_IP, GOOGLEBOT_UA),
    VERIFIED,
    "the extra googlebot line wins over the list's",
  );
});

Deno.test("trustedSources() refuses a malformed crawler line at build", async () => {
  await assert.rejects(
    trustedSources(config({ extra_crawlers: ["mybot mybot .example.org", "broken line"] })),
    (error: Error) =>
      error instanceof TypeError && /extra_crawlers line 2 "broken line"/.test(error.message),
  );
  await assert.rejects(
    trustedSources(config({ extra_crawlers: ["mybot mybot example.org"] })),
    (error: Error) =>
      error instanceof TypeError && /extra_crawlers line 1 .*"example\.org"/.test(error.message),
  );
  await assert.rejects(
    trustedSources(config(), { readFile: () => Promise.resolve("ok ok .ok.com\nbad\n") }),
    (error: Error) =>
      error instanceof TypeError && /crawlers\.txt entry 2 "bad"/.test(error.message),
  );
});

Deno.test("trustedSources() keeps at most cache_size verdicts and lookups", async () => {
  const dns = new FakeDns();
  for (const last of [1, 2, 3]) {
    const name = `crawl-${last}.googlebot.com`;
    dns.set("PTR", `${last}.0.0.203.in-addr.arpa`, [name]).set("A", name, [`203.0.0.${last}`]);
  }
  const f = await trustedSources(config({ cache_size: 2 }), { resolveDns: dns.resolve });
  for (const last of [1, 2, 3]) {
    send(f, `203.0.0.${last}`, GOOGLEBOT_UA);
    await f.settled();
  }
  assert.equal(f.counters().lookups, 3);
  assert.deepEqual(send(f, "203.0.0.3", GOOGLEBOT_UA), VERIFIED);
  assert.deepEqual(send(f, "203.0.0.2", GOOGLEBOT_UA), VERIFIED);
  assert.equal(f.counters().lookups, 3);
  assert.deepEqual(send(f, "203.0.0.1", GOOGLEBOT_UA), CLAIMED, "evicted: looked up again");
  assert.equal(f.counters().lookups, 4);
  await f.settled();
  assert.deepEqual(send(f, "203.0.0.3", GOOGLEBOT_UA), CLAIMED, "now the least recently used");

  const hanging = new FakeDns();
  for (const last of [1, 2, 3]) hanging.set("PTR", `${last}.0.0.203.in-addr.arpa`, "hang");
  const g = await trustedSources(config({ cache_size: 2 }), { resolveDns: hanging.resolve });
  for (const last of [1, 2, 3]) send(g, `203.0.0.${last}`, GOOGLEBOT_UA);
  assert.equal(g.counters().lookups, 2, "at most cache_size lookups in flight");
  hanging.release([]);
  await g.settled();
  send(g, "203.0.0.3", GOOGLEBOT_UA);
  assert.equal(g.counters().lookups, 3);
});

Deno.test("trustedSources() looks up again once a verdict is cache_ttl old", async () => {
  const dns = googleDns();
  const f = await trustedSources(config({ cache_ttl: 10 }), { resolveDns: dns.resolve });
  send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 5_000);
  await f.settled();
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 14_999), VERIFIED);
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 15_000), CLAIMED, "expired by ctx.now");
  assert.equal(f.counters().lookups, 2);
  await f.settled();
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 15_001), VERIFIED);

  // sweep() drops expired verdicts: a request stamped earlier no longer finds one.
  f.sweep(25_000);
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 16_000), CLAIMED);
  assert.equal(f.counters().lookups, 3);
});

Deno.test("trustedSources() sets its flags again on the response half, counting and emitting once", async () => {
  const dns = googleDns();
  const f = await trustedSources(config(), { resolveDns: dns.resolve });
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 0), CLAIMED);
  await f.settled();
  // The after-upstream half of a request starts with no flags: the per-response filters and
  // the projections must still see a verified crawler or a private source on it.
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA, 100, "response"), VERIFIED);
  assert.deepEqual(send(f, "10.0.0.1", "kube-probe/1.29", 100, "response"), {
    flags: { private_source: true },
    events: [],
  });
  assert.deepEqual(f.counters(), { verified: 0, fake: 0, unknown: 1, lookups: 1, errors: 0 });
  const fake = await trustedSources(config(), { resolveDns: new FakeDns().resolve });
  send(fake, "203.0.113.66", GOOGLEBOT_UA, 0);
  await fake.settled();
  assert.deepEqual(
    send(fake, "203.0.113.66", GOOGLEBOT_UA, 100, "response"),
    { flags: { crawler_claimed: true, crawler_fake: true }, events: [] },
    "a fake claim is flagged, but its event was the first half's",
  );
});

Deno.test("trustedSources() uses a crawlers.txt from components_config_dir instead", async () => {
  const dns = new FakeDns().set("PTR", "2.0.0.203.in-addr.arpa", ["a.bots.example.org"])
    .set("A", "a.bots.example.org", ["203.0.0.2"]);
  const read: string[] = [];
  const deps: FilterDeps = {
    resolveDns: dns.resolve,
    readFile: (name) => {
      read.push(name);
      return Promise.resolve("# ours\nourbot ourbot/ .bots.example.org\n");
    },
  };
  const f = await trustedSources(config(), deps);
  assert.deepEqual(read, ["crawlers.txt"]);
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA), NOTHING, "embedded list replaced");
  assert.deepEqual(send(f, "203.0.0.2", "OurBot/2.0"), CLAIMED);
  await f.settled();
  assert.deepEqual(send(f, "203.0.0.2", "OurBot/2.0"), VERIFIED);
});

Deno.test("trustedSources() ignores lookups that complete after close()", async () => {
  const dns = new FakeDns().set("PTR", GOOGLEBOT_PTR, "hang");
  const logged: string[] = [];
  const f = await trustedSources(config(), {
    resolveDns: dns.resolve,
    log: (_level, msg) => logged.push(msg),
  });
  send(f, GOOGLEBOT_IP, GOOGLEBOT_UA);
  f.close();
  dns.release();
  await f.settled();
  assert.equal(f.counters().errors, 0);
  assert.deepEqual(logged, []);
  assert.deepEqual(send(f, GOOGLEBOT_IP, GOOGLEBOT_UA), CLAIMED, "closed: unknown, no lookup");
  assert.equal(f.counters().lookups, 1);
});
