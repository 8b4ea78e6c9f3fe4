/**
 * The before/after join through real runners and the real filter chain: a request sent as its
 * two halves (before: req_type 0 without status; after: req_type 1 with it, same
 * qrator_request_id), with duplicates of either half, or as an after-half alone, must emit
 * every event exactly as the same request sent once as a completed record does.
 * @module
 */
import assert from "node:assert/strict";
import {
  effectiveComponents,
  EMBEDDED_DEFAULT_CONF,
  parseDefaultConf,
  rawComponents,
} from "../../../src/shared/config/load_components.ts";
import { loadSettings } from "../../../src/shared/config/settings.ts";
import { parseIPv4 } from "../../../src/shared/net/ip.ts";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import { HttpStats } from "../../../src/sensor/filters/statstore_http_stats.ts";
import type { ChainRunner, Decision } from "../../../src/sensor/ingest/chain_runner.ts";
import { LocalRunner } from "../../../src/sensor/ingest/local_runner.ts";
import { WorkerRunner } from "../../../src/sensor/ingest/worker_runner.ts";
import { emptyRecord, encodeRecord, type HttpRecord } from "../../../src/sensor/wire/mod.ts";

const DOMAIN = 8984;
const T0 = 1_700_000_000_000;
const settings = loadSettings("[tsng]\ncomponents_config_dir =\nstate_dir =\n", "t.ini");
const global = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf");

/** A domain where every filter that emits events has something to emit. */
const config = effectiveComponents(
  rawComponents({
    ua_parser: { events: ["ua_tool"] },
    fixed_lists: {
      lists: [
        { name: "bad", type: "black", entries: ["203.0.113.0/24"] },
        { name: "office", type: "white", entries: ["192.0.2.200"] },
      ],
    },
    // lua: the embedded default.lua (deny_bad_method → lua_bad_method).
    many_uas: { max_uas: 2, window: 300, min_new_share: 0 },
    limit_req_mc: {
      enabled: true,
      configurations: [{ name: "z", rate: "6r/m", burst: 2, nodelay: true }],
    },
    request_hash_score: {
      enabled: true,
      per_ip: { history_size: 4, max_score: 3, min_repeats: 3, timeout: 300 },
      per_useragent: { history_size: 8, max_score: 3, min_repeats: 3, timeout: 300 },
    },
    geo_zones: { deny: ["RU"] },
    response_status: {
      rules: [{ name: "fail", status: [401, 404, 405], unless: ["static"], count: 1, window: 600 }],
    },
  }, "join test"),
  global,
);

/** One request: who sends what, and how its halves travel. */
interface Request {
  ip: string;
  method: string;
  url: string;
  ua: string;
  geo: string;
  status: number;
  /** "both": before and after; "after": the after-half alone (then a late before-half). */
  send: "both" | "after";
  /** Each half sent twice. */
  duplicate: boolean;
}

const KINDS: Omit<Request, "send" | "duplicate">[] = [
  // Black-listed curl repeating a failed login: fixed, ua_tool, limit_req, hash score, status.
  { ip: "203.0.113.5", method: "POST", url: "/login", ua: "curl/8.4.0", geo: "", status: 401 },
  // A UA rotator: many_uas.
  { ip: "198.51.100.7", method: "GET", url: "/p", ua: "rotating", geo: "", status: 200 },
  // A scanner from a denied country asking for /.env: probe, scanner_ua, geo, status.
  { ip: "198.51.100.8", method: "GET", url: "/.env", ua: "sqlmap/1.7", geo: "RU", status: 404 },
  // A bad method: lua deny, status.
  { ip: "198.51.100.9", method: "PROPFIND", url: "/", ua: "Mozilla/5.0", geo: "", status: 405 },
  // White-listed, private and static failures: flagged on the response half too, so the
  // per-response filter skips them.
  { ip: "192.0.2.200", method: "POST", url: "/login", ua: "Mozilla/5.0", geo: "", status: 401 },
  { ip: "10.1.2.3", method: "POST", url: "/login", ua: "Mozilla/5.0", geo: "", status: 401 },
  { ip: "198.51.100.10", method: "GET", url: "/app.js", ua: "Mozilla/5.0", geo: "", status: 404 },
];

const REQUESTS: Request[] = Array.from({ length: 84 }, (_, i) => {
  const kind = KINDS[i % KINDS.length]!;
  return {
    ...kind,
    ua: kind.ua === "rotating" ? `agent-${i}` : kind.ua,
    send: i % 5 === 3 ? "after" : "both",
    duplicate: i % 4 === 1,
  };
});

function record(r: Request, half: "before" | "after" | "completed", id: string): HttpRecord {
  return {
    ...emptyRecord(),
    remote_ip: parseIPv4(r.ip)!,
    method: r.method,
    url: r.url,
    host: "example.com",
    http_user_agent: r.ua,
    geo: r.geo,
    req_type: half === "before" ? 0 : 1,
    status: half === "before" ? 0 : r.status,
    qrator_request_id: id,
  };
}

interface Message {
  at: number;
  request: number;
  record: HttpRecord;
}

/**
 * The halves in time order: request i's before-half at T0 + i s and its after-half 1.5 s later
 * (after the next request's before-half, as a slow upstream makes it); an after-half alone
 * comes at T0 + i s and its before-half late. Duplicates follow their half.
 */
function joinedMessages(): { messages: Message[]; duplicates: number } {
  const messages: Message[] = [];
  let duplicates = 0;
  REQUESTS.forEach((r, i) => {
    const id = `req-${i}`;
    const t = T0 + i * 1000;
    const add = (at: number, half: "before" | "after") =>
      messages.push({ at, request: i, record: record(r, half, id) });
    if (r.send === "both") {
      add(t, "before");
      add(t + 1500, "after");
    } else {
      add(t, "after");
      add(t + 250, "before"); // the before-half arriving after its after-half: a duplicate
      duplicates++;
    }
    if (r.duplicate) {
      add(t + 1600, "after");
      add(t + 1700, "before");
      duplicates += 2;
    }
  });
  messages.sort((a, b) => a.at - b.at);
  return { messages, duplicates };
}

/** Each request once, as a completed record (a log line: req_type 1, no request id). */
function completedMessages(): Message[] {
  return REQUESTS.map((r, i) => ({
    at: T0 + i * 1000,
    request: i,
    record: record(r, "completed", ""),
  }));
}

/** Events per request index, and the duplicates the runner dropped. */
async function eventsOf(
  kind: "local" | "workers",
  messages: Message[],
): Promise<{ events: string[][]; dropped: number }> {
  const decisions: Decision[] = [];
  let dropped = 0;
  const sinks = {
    decide: (d: Decision) => void decisions.push(d),
    drop: () => void dropped++,
  };
  const runner: ChainRunner = kind === "local"
    ? new LocalRunner(
      { settings, global: () => global, log: silentLogger, stats: new HttpStats(), offline: true },
      sinks,
    )
    : new WorkerRunner({ workers: 2, settings, global, logLevel: "error", sinks });
  const requestAt = new Map<number, number>();
  try {
    assert.deepEqual(await runner.configure(DOMAIN, config), []);
    for (const m of messages) {
      assert.ok(!requestAt.has(m.at), `two messages at ${m.at}`);
      requestAt.set(m.at, m.request);
      await runner.submit(DOMAIN, m.record, encodeRecord(m.record), m.at);
    }
    await runner.settled();
  } finally {
    await runner.close();
  }
  const events: string[][] = REQUESTS.map(() => []);
  for (const d of decisions) {
    const i = requestAt.get(d.now);
    assert.ok(i !== undefined, `a decision at ${d.now} matches no message`);
    assert.equal(d.ip, REQUESTS[i]!.ip);
    events[i]!.push(...d.events);
  }
  return { events: events.map((e) => e.sort()), dropped };
}

function count(events: string[][], name: string | RegExp): number {
  return events.flat().filter((e) => typeof name === "string" ? e === name : name.test(e)).length;
}

for (const kind of ["local", "workers"] as const) {
  const runnerName = kind === "local" ? "LocalRunner" : "WorkerRunner";

  Deno.test(`${runnerName} emits each event once per request whichever halves arrive`, async () => {
    const { messages, duplicates } = joinedMessages();
    const joined = await eventsOf(kind, messages);
    const once = await eventsOf(kind, completedMessages());
    assert.equal(joined.dropped, duplicates, "every repeated half is dropped as a duplicate");
    assert.equal(once.dropped, 0);
    for (let i = 0; i < REQUESTS.length; i++) {
      const r = REQUESTS[i]!;
      const where = `request ${i} (${r.ip} ${r.method} ${r.url}, ${r.send}${
        r.duplicate ? ", duplicated" : ""
      })`;
      assert.deepEqual(joined.events[i], once.events[i], where);
      assert.deepEqual(joined.events[i], [...new Set(joined.events[i])], `${where}: repeated`);
    }
    // Every filter that emits is exercised, each family once per request.
    const per = (ip: string) => REQUESTS.filter((r) => r.ip === ip).length;
    const events = joined.events;
    assert.equal(count(events, "fixed_bad"), per("203.0.113.5"));
    assert.equal(count(events, "ua_tool"), per("203.0.113.5") + per("198.51.100.8"));
    assert.equal(count(events, "lua_bad_method"), per("198.51.100.9"));
    assert.equal(count(events, "many_uas"), per("198.51.100.7") - 2);
    assert.ok(count(events, /^loc_rate_z_POST/) > 0);
    const of = (ip: string) => REQUESTS.flatMap((r, i) => r.ip === ip ? [events[i]!] : []);
    assert.equal(count(of("203.0.113.5"), "hash_score_ip"), per("203.0.113.5") - 2);
    assert.equal(count(of("203.0.113.5"), "hash_score_ua"), per("203.0.113.5") - 2);
    assert.equal(count(events, "geo_zone_RU"), per("198.51.100.8"));
    assert.equal(count(events, "probe_file"), per("198.51.100.8"));
    assert.equal(count(events, "scanner_ua"), per("198.51.100.8"));
    // response_status counts the completed record once: the after-half, or an after-half
    // alone; never the white-listed, private or static failures (flags set on that half too).
    const failing = ["203.0.113.5", "198.51.100.8", "198.51.100.9"];
    assert.equal(count(events, "status_fail"), failing.reduce((n, ip) => n + per(ip), 0));
    for (const ip of ["192.0.2.200", "10.1.2.3", "198.51.100.10"]) {
      assert.equal(count(of(ip), /^status_/), 0, ip);
    }
  });
}
