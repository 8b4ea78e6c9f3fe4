import type { ResponseStatusConfig, StatusRule } from "../../shared/config/components.ts";
import { compileRegex, type Matcher } from "../../shared/config/regex.ts";
import type { HttpRecord } from "../wire/record.ts";
import {
  growU32,
  IpSlots,
  sourceKey,
  type StateStats,
  type TrackedFilterInstance,
} from "./_ip_slots.ts";
import { type FilterDeps, hasAnyFlag, type RequestContext } from "./types.ts";

/** Counters of a response_status instance, for /metrics. */
export interface ResponseStatusCounters {
  /** Responses looked at (status known). */
  responses: number;
  /** Failures counted (a rule's status within its scope). */
  failures: number;
  /** Events emitted. */
  events: number;
}

/** A response_status instance: a filter plus its counters and state size. */
export interface ResponseStatusInstance extends TrackedFilterInstance {
  counters(): ResponseStatusCounters;
}

interface Rule {
  event: string;
  statuses: Set<number>;
  method: string;
  path: Matcher | undefined;
  unless: readonly string[];
  count: number;
  window: number;
  minShare: number;
  slots: IpSlots;
  /** Per entry: window index, failures and requests in scope of this and the last window. */
  win: Uint32Array<ArrayBuffer>;
  bad: Uint32Array<ArrayBuffer>;
  prevBad: Uint32Array<ArrayBuffer>;
  all: Uint32Array<ArrayBuffer>;
  prevAll: Uint32Array<ArrayBuffer>;
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
 */
export function responseStatus(
  config: ResponseStatusConfig,
  _deps: FilterDeps = {},
): ResponseStatusInstance {
  const names = new Set<string>();
  const rules = config.rules.map((rule, i) => {
    if (names.has(rule.name)) {
      throw new TypeError(`Cannot build response_status: rules has "${rule.name}" twice`);
    }
    names.add(rule.name);
    return buildRule(rule, i);
  });
  const prefix = config.ipv6_prefix;
  const counters: ResponseStatusCounters = { responses: 0, failures: 0, events: 0 };

  return {
    name: "response_status",
    run: function responseStatus(record: HttpRecord, ctx: RequestContext): void {
      // The status is known on the completed record only: the after-half, or a whole log line.
      if (record.status === 0 || (ctx.phase === "first" && record.req_type !== 1)) return;
      counters.responses++;
      let path: string | undefined;
      const sec = Math.floor(ctx.now / 1000);
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
        const key = sourceKey(record, ctx.ip, prefix);
        let e = rule.slots.find(key[0], key[1]);
        if (e < 0) {
          if (!failed && rule.minShare === 0) continue; // successes matter only for the share
          e = rule.slots.insert(key[0], key[1]);
          rule.win[e] = Math.floor(sec / rule.window);
          rule.bad[e] =
            rule.prevBad[e] =
            rule.all[e] =
            rule.prevAll[e] =
              0;
        }
        rule.slots.seen[e] = sec;
        const w = Math.floor(sec / rule.window);
        if (w !== rule.win[e]) {
          const adjacent = w === rule.win[e]! + 1;
          rule.prevBad[e] = adjacent ? rule.bad[e]! : 0;
          rule.prevAll[e] = adjacent ? rule.all[e]! : 0;
          rule.bad[e] = rule.all[e] = 0;
          rule.win[e] = w;
        }
        rule.all[e]!++;
        if (!failed) continue;
        rule.bad[e]!++;
        counters.failures++;
        const overlap = 1 - (sec - w * rule.window) / rule.window;
        const bad = rule.bad[e]! + rule.prevBad[e]! * overlap;
        if (bad < rule.count) continue;
        if (rule.minShare > 0) {
          const all = rule.all[e]! + rule.prevAll[e]! * overlap;
          if (bad < rule.minShare * all) continue;
        }
        counters.events++;
        ctx.events.push(rule.event);
      }
    },
    sweep(now: number): void {
      const sec = Math.floor(now / 1000);
      // Two windows without a request: nothing of it is left in the estimate.
      for (const rule of rules) {
        rule.slots.forEachEntry((e) => {
          if (sec - rule.slots.seen[e]! >= 2 * rule.window) rule.slots.remove(e);
        });
      }
    },
    close(): void {
      for (const rule of rules) rule.slots.clear();
    },
    stats(): StateStats {
      let keys = 0;
      let bytes = 0;
      for (const rule of rules) {
        keys += rule.slots.size;
        bytes += rule.slots.bytes + 5 * rule.win.byteLength;
      }
      return { keys, bytes };
    },
    counters: () => ({ ...counters }),
  };
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
  const built: Rule = {
    event: `status_${rule.name}`,
    statuses: new Set(rule.status),
    method: rule.method,
    path,
    unless: rule.unless,
    count: rule.count,
    window: rule.window,
    minShare: rule.min_share,
    slots: undefined as unknown as IpSlots,
    win: new Uint32Array(0),
    bad: new Uint32Array(0),
    prevBad: new Uint32Array(0),
    all: new Uint32Array(0),
    prevAll: new Uint32Array(0),
  };
  built.slots = new IpSlots((capacity) => {
    built.win = growU32(built.win, capacity);
    built.bad = growU32(built.bad, capacity);
    built.prevBad = growU32(built.prevBad, capacity);
    built.all = growU32(built.all, capacity);
    built.prevAll = growU32(built.prevAll, capacity);
  }, 64);
  return built;
}
