import type { ResponseStatusConfig, StatusRule } from "../../shared/config/components.ts";
import { compileRegex, type Matcher } from "../../shared/config/regex.ts";
import { sourceOf } from "../../shared/net/ip.ts";
import type { HttpRecord } from "../wire/record.ts";
import {
  grow,
  IpSlots,
  sourceKey,
  type StateStats,
  type TrackedFilterInstance,
} from "./_ip_slots.ts";
import { counterKey, sharedIncrement, sharedRead, sourceToken } from "./_status_shared.ts";
import { type FilterDeps, hasAnyFlag, type RequestContext, type SharedStore } from "./types.ts";

/** Counters of a response_status instance, for /metrics. */
export interface ResponseStatusCounters {
  /** Responses looked at (status known). */
  responses: number;
  /** Failures counted (a rule's status within its scope). */
  failures: number;
  /** Events emitted. */
  events: number;
  /**
   * Backend memcached: counts made in memcached, one per rule and request (a failure, decided
   * on the shared counters, or a request in the scope of a rule with `min_share`).
   */
  shared: number;
  /**
   * Backend memcached: counts made only locally, because memcached was down, slow, erroring
   * or too many of its answers were outstanding (a failure so counted is decided locally).
   */
  fallback: number;
}

/** A response_status instance: a filter plus its counters and state size. */
export interface ResponseStatusInstance extends TrackedFilterInstance {
  counters(): ResponseStatusCounters;
  /** Resolves once every memcached client made its first connection attempt. */
  ready(): Promise<void>;
  /** Resolves once the counts sent without waiting (successes) have been answered. */
  settled(): Promise<void>;
}

/**
 * Memcached counts outstanding at once per instance (failures waited on plus requests counted
 * in the background); past it a count is made locally, so a slow store cannot pile up work.
 */
export const MAX_SHARED_IN_FLIGHT = 1024;

/** One rule as compiled from its configuration: read-only, shared by every instance built on it. */
interface Rule {
  readonly index: number;
  name: string;
  event: string;
  statuses: ReadonlySet<number>;
  method: string;
  path: Matcher | undefined;
  unless: readonly string[];
  count: number;
  window: number;
  minShare: number;
  /** Seconds a shared counter lives: its own window and the next, which reads it as previous. */
  ttl: number;
}

/** One instance's counts for one rule, per source. */
interface Table {
  slots: IpSlots;
  /** Per entry: window index, failures and requests in scope of this and the last window. */
  win: Uint32Array<ArrayBuffer>;
  bad: Uint32Array<ArrayBuffer>;
  prevBad: Uint32Array<ArrayBuffer>;
  all: Uint32Array<ArrayBuffer>;
  prevAll: Uint32Array<ArrayBuffer>;
}

// Configurations are not mutated once loaded, and every domain without a configuration of its
// own builds from the same global object: its rules (regexes, status sets) are compiled once.
const compiled = new WeakMap<ResponseStatusConfig, readonly Rule[]>();

/** The rules of a configuration, compiled and checked once per configuration object. */
function rulesOf(config: ResponseStatusConfig): readonly Rule[] {
  let rules = compiled.get(config);
  if (rules !== undefined) return rules;
  const names = new Set<string>();
  rules = config.rules.map((rule, i) => {
    if (names.has(rule.name)) {
      throw new TypeError(`Cannot build response_status: rules has "${rule.name}" twice`);
    }
    names.add(rule.name);
    return buildRule(rule, i);
  });
  compiled.set(config, rules);
  return rules;
}

/** The counts one decision is made on: this window's and the last one's, and the overlap. */
interface Counts {
  bad: number;
  prevBad: number;
  all: number;
  prevAll: number;
  overlap: number;
}

/**
 * response_status: per-source failure counting on the response (the after-upstream record, or
 * a log line, where the status is known). Each rule counts, per client (IPv6 per
 * `ipv6_prefix`), its failure statuses among the requests in its scope (method, path, minus
 * `unless` flags) over a sliding `window` — the estimate nginx and Cloudflare use: the last
 * window weighted by how much of it still overlaps, plus the current one. While the count is at
 * least `count` (fail2ban's maxretry within findtime) and failures are at least `min_share` of
 * the scope's requests, every further failure emits `status_<name>`. The share keeps a busy
 * gateway whose many users mistype now and then from looking like one brute-forcer.
 *
 * Backend `memcached` counts per (domain, rule, source, window) in memcached, so sensors behind
 * one balancer count an attacker together: a failure `incr`s its window's counter (created by
 * `add` when absent, the add race resolved by incrementing the winner's key) and reads the last
 * window's, pipelined on one connection, and `run` returns a promise for that one round trip.
 * Rules with `min_share` also share the requests in scope; a success's increment is sent
 * without waiting. Counters expire after two windows. While memcached is down, slow, erroring
 * or busy, the count is made and decided locally (local counters are kept warm: every shared
 * answer raises them to at least the shared counts), counted in `fallback` and logged; ingest
 * never waits and `run` never throws.
 */
export function responseStatus(
  config: ResponseStatusConfig,
  deps: FilterDeps = {},
): ResponseStatusInstance {
  const rules = rulesOf(config);
  // This instance's counts by rule index, made when a rule first counts a source and dropped
  // again when a sweep empties them: a domain that sends little holds (almost) nothing.
  const tables: (Table | undefined)[] = [];
  const prefix = config.ipv6_prefix;
  const counters: ResponseStatusCounters = {
    responses: 0,
    failures: 0,
    events: 0,
    shared: 0,
    fallback: 0,
  };
  let clients: SharedStore[] = [];
  if (config.backend === "memcached") {
    if (config.servers.length === 0) {
      throw new TypeError(`Cannot build response_status: backend memcached needs "servers"`);
    }
    const open = deps.sharedStore;
    if (open === undefined) {
      throw new TypeError(`Cannot build response_status: backend memcached has no store here`);
    }
    clients = config.servers.map((server) => open(server, config.timeout_ms));
  }
  let inFlight = 0;
  /** Background counts (successes), for `settled`. */
  let background: Set<Promise<void>> | undefined; // made by the first (memcached only)

  const noteFallback = (error: unknown): void => {
    counters.fallback++;
    // Rate-limited per message by the provider of deps.log.
    deps.log?.("warn", "response_status: memcached unavailable, counting locally", {
      error: String(error),
      fallback: counters.fallback,
    });
  };

  /** Raises an entry's local counts to the shared ones (if it is still in that window). */
  const mirror = (
    rule: Rule,
    hi: number,
    lo: number,
    w: number,
    bad: number,
    prevBad: number,
    all: number,
    prevAll: number,
  ): void => {
    const t = tables[rule.index];
    const e = t === undefined ? -1 : t.slots.find(hi, lo);
    if (t === undefined || e < 0) return;
    if (t.win[e] === w) {
      t.bad[e] = Math.max(t.bad[e]!, bad);
      t.prevBad[e] = Math.max(t.prevBad[e]!, prevBad);
      t.all[e] = Math.max(t.all[e]!, all);
      t.prevAll[e] = Math.max(t.prevAll[e]!, prevAll);
    } else if (t.win[e] === w + 1) {
      t.prevBad[e] = Math.max(t.prevBad[e]!, bad);
      t.prevAll[e] = Math.max(t.prevAll[e]!, all);
    }
  };

  /** A failure counted and decided in memcached; local counts if it cannot answer. */
  const decideShared = async (
    rule: Rule,
    client: SharedStore,
    token: string,
    domainId: number,
    w: number,
    hi: number,
    lo: number,
    local: Counts,
  ): Promise<boolean> => {
    inFlight++;
    try {
      const key = (index: number, kind: "f" | "n") =>
        counterKey(domainId, rule.name, rule.window, index, kind, token);
      // Pipelined on one connection: one round trip (two when this window's key is new).
      const share = rule.minShare > 0;
      const [bad, prevBad, all, prevAll] = await Promise.all([
        sharedIncrement(client, key(w, "f"), rule.ttl),
        w > 0 ? sharedRead(client, key(w - 1, "f")) : 0,
        share ? sharedIncrement(client, key(w, "n"), rule.ttl) : 0,
        share && w > 0 ? sharedRead(client, key(w - 1, "n")) : 0,
      ]);
      counters.shared++;
      mirror(rule, hi, lo, w, bad, prevBad, all, prevAll);
      // Never below what this sensor saw itself (memcached restarted, an increment lost).
      return verdict(rule, {
        bad: Math.max(bad, local.bad),
        prevBad: Math.max(prevBad, local.prevBad),
        all: Math.max(all, local.all),
        prevAll: Math.max(prevAll, local.prevAll),
        overlap: local.overlap,
      });
    } catch (error) {
      noteFallback(error);
      return verdict(rule, local);
    } finally {
      inFlight--;
    }
  };

  /** A success in a `min_share` rule's scope: counted in memcached without waiting. */
  const countShared = (
    rule: Rule,
    client: SharedStore,
    token: string,
    domainId: number,
    w: number,
    hi: number,
    lo: number,
  ): void => {
    inFlight++;
    const key = counterKey(domainId, rule.name, rule.window, w, "n", token);
    const done = (async () => {
      try {
        const all = await sharedIncrement(client, key, rule.ttl);
        counters.shared++;
        mirror(rule, hi, lo, w, 0, 0, all, 0);
      } catch (error) {
        noteFallback(error);
      } finally {
        inFlight--;
      }
    })().catch(() => {}); // nobody waits for it, so nothing may escape
    const pending = background ??= new Set();
    pending.add(done);
    done.then(() => pending.delete(done));
  };

  const emit = (rule: Rule, ctx: RequestContext): void => {
    counters.events++;
    ctx.events.push(rule.event);
  };

  return {
    name: "response_status",
    run: function responseStatus(record: HttpRecord, ctx: RequestContext): void | Promise<void> {
      // The status is known on the completed record only: the after-half, or a whole log line.
      if (record.status === 0 || (ctx.phase === "first" && record.req_type !== 1)) return;
      counters.responses++;
      let path: string | undefined;
      let hi = 0;
      let lo = 0;
      let keyed = false;
      let token: string | undefined;
      // Once a rule waits on memcached: the rules that emit, in rule order (a rule decided
      // now, or a promise of it, undefined for no event, while memcached answers).
      let pending: (Rule | Promise<Rule | undefined>)[] | undefined;
      const now = Math.floor(ctx.now / 1000);
      for (const rule of rules) {
        if (rule.method !== "" && rule.method !== record.method) continue;
        if (rule.path !== undefined) {
          if (path === undefined) {
            const q = record.url.indexOf("?");
            path = q < 0 ? record.url : record.url.slice(0, q);
          }
          if (!rule.path.test(path)) continue;
        }
        if (rule.unless.length > 0 && hasAnyFlag(ctx.flags, rule.unless)) continue;
        const failed = rule.statuses.has(record.status);
        if (!keyed) {
          const key = sourceKey(record, ctx.ip, prefix);
          hi = key[0];
          lo = key[1];
          keyed = true;
        }
        let t = tables[rule.index];
        let e = t === undefined ? -1 : t.slots.find(hi, lo);
        let sec = now;
        if (t === undefined || e < 0) {
          if (!failed && rule.minShare === 0) continue; // successes matter only for the share
          t ??= tables[rule.index] = newTable();
          e = t.slots.insert(hi, lo);
          t.win[e] = Math.floor(sec / rule.window);
          t.bad[e] =
            t.prevBad[e] =
            t.all[e] =
            t.prevAll[e] =
              0;
        } else if (t.slots.seen[e]! > sec) {
          // A record older than one already counted (a late log line, another worker's pace):
          // it counts as of the newest time seen rather than rewinding the window.
          sec = t.slots.seen[e]!;
        }
        t.slots.seen[e] = sec;
        const w = Math.floor(sec / rule.window);
        if (w !== t.win[e]) {
          const adjacent = w === t.win[e]! + 1;
          t.prevBad[e] = adjacent ? t.bad[e]! : 0;
          t.prevAll[e] = adjacent ? t.all[e]! : 0;
          t.bad[e] = t.all[e] = 0;
          t.win[e] = w;
        }
        t.all[e]!++;
        if (failed) {
          t.bad[e]!++;
          counters.failures++;
        }
        if (clients.length > 0) {
          const client = clients[lo % clients.length]!;
          if (!failed && rule.minShare === 0) continue; // nothing of it is shared
          if (client.state !== "up" || inFlight >= MAX_SHARED_IN_FLIGHT) {
            noteFallback(
              new Error(
                client.state !== "up"
                  ? `memcached ${client.server} is ${client.state}`
                  : `memcached ${client.server}: ${inFlight} counts in flight`,
              ),
            );
          } else {
            token ??= sourceToken(sourceOf(ctx.ip, prefix));
            if (!failed) {
              countShared(rule, client, token, ctx.domainId, w, hi, lo);
              continue;
            }
            const local = localCounts(rule, t, e, sec, w);
            (pending ??= []).push(
              decideShared(rule, client, token, ctx.domainId, w, hi, lo, local).then((hit) =>
                hit ? rule : undefined
              ),
            );
            continue;
          }
        }
        if (failed && verdict(rule, localCounts(rule, t, e, sec, w))) {
          if (pending === undefined) emit(rule, ctx);
          else pending.push(rule);
        }
      }
      if (pending === undefined) return;
      return Promise.all(pending).then((hits) => {
        for (const rule of hits) if (rule !== undefined) emit(rule, ctx);
      });
    },
    sweep(now: number): void {
      const sec = Math.floor(now / 1000);
      // Two windows without a request: nothing of it is left in the estimate.
      for (const rule of rules) {
        const t = tables[rule.index];
        if (t === undefined) continue;
        const slots = t.slots;
        slots.forEachEntry((e) => {
          if (sec - slots.seen[e]! >= 2 * rule.window) slots.remove(e);
        });
        if (slots.size === 0) tables[rule.index] = undefined;
      }
    },
    async close(): Promise<void> {
      tables.length = 0;
      await Promise.all(clients.map((client) => client.close()));
      clients = [];
    },
    stats(): StateStats {
      let keys = 0;
      let bytes = 0;
      for (const t of tables) {
        if (t === undefined) continue;
        keys += t.slots.size;
        bytes += t.slots.bytes + 5 * t.win.byteLength;
      }
      return { keys, bytes };
    },
    counters: () => ({ ...counters }),
    ready: async () => {
      await Promise.all(clients.map((client) => client.ready()));
    },
    settled: async () => {
      while (background !== undefined && background.size > 0) await Promise.all([...background]);
    },
  };
}

/** An entry's local counts at second `sec` of window `w`. */
function localCounts(rule: Rule, t: Table, e: number, sec: number, w: number): Counts {
  return {
    bad: t.bad[e]!,
    prevBad: t.prevBad[e]!,
    all: t.all[e]!,
    prevAll: t.prevAll[e]!,
    overlap: 1 - (sec - w * rule.window) / rule.window,
  };
}

/** The rule's test: the sliding count reaches `count`, and failures are `min_share` of all. */
function verdict(rule: Rule, c: Counts): boolean {
  const bad = c.bad + c.prevBad * c.overlap;
  if (bad < rule.count) return false;
  return rule.minShare === 0 || bad >= rule.minShare * (c.all + c.prevAll * c.overlap);
}

function buildRule(rule: StatusRule, i: number): Rule {
  let path: Matcher | undefined;
  if (rule.path !== "") {
    try {
      path = compileRegex(rule.path);
    } catch (error) {
      throw new SyntaxError(
        `Cannot build response_status: rules[${i}] "${rule.name}": path: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }
  return {
    index: i,
    name: rule.name,
    event: `status_${rule.name}`,
    statuses: new Set(rule.status),
    method: rule.method,
    path,
    unless: rule.unless,
    count: rule.count,
    window: rule.window,
    minShare: rule.min_share,
    // memcached's clock ticks in whole seconds: one more keeps the key through the next window.
    ttl: 2 * rule.window + 1,
  };
}

/** An empty table of per-source counts. */
function newTable(): Table {
  const t: Table = {
    slots: undefined as unknown as IpSlots,
    win: new Uint32Array(0),
    bad: new Uint32Array(0),
    prevBad: new Uint32Array(0),
    all: new Uint32Array(0),
    prevAll: new Uint32Array(0),
  };
  t.slots = new IpSlots((capacity) => {
    t.win = grow(t.win, capacity);
    t.bad = grow(t.bad, capacity);
    t.prevBad = grow(t.prevBad, capacity);
    t.all = grow(t.all, capacity);
    t.prevAll = grow(t.prevAll, capacity);
  });
  return t;
}
