import type { LimitReqConfig, LimitReqZone } from "../../shared/config/components.ts";
import { compileRegex, type Matcher } from "../../shared/config/regex.ts";
import type { HttpRecord } from "../wire/record.ts";
import {
  sourceKey,
  sourceTextKey,
  type StateStats,
  textKey,
  type TrackedFilterInstance,
} from "./_ip_slots.ts";
import { sourceOf } from "../../shared/net/ip.ts";
import { LocalBuckets } from "./_limit_req_local.ts";
import { drainSeconds, parseRate, REJECT, wouldDelay } from "./_limit_req_math.ts";
import { sharedTake } from "./_limit_req_shared.ts";
import type { FilterDeps, RequestContext, SharedStore } from "./types.ts";

/** Counters of a limit_req_mc instance, for /metrics. */
export interface LimitReqCounters {
  /** Requests decided by memcached. */
  shared: number;
  /** Requests decided locally because memcached was down, slow or erroring. */
  fallback: number;
  /** Of those, the ones that lost CAS races too often. */
  contention: number;
  /** Rejected requests (events emitted). */
  rejected: number;
}

/** A limit_req_mc instance: a filter plus its counters and state size. */
export interface LimitReqInstance extends TrackedFilterInstance {
  counters(): LimitReqCounters;
  /** Resolves once every memcached client made its first connection attempt. */
  ready(): Promise<void>;
}

/** Flag set on a request nginx would have delayed (burst without nodelay, excess > 0). */
export const DELAYED_FLAG = "limit_req_delayed";

/** One zone as compiled from its configuration: read-only, shared by every instance built on it. */
interface Zone {
  readonly index: number;
  name: string;
  host: Matcher | undefined;
  method: string;
  path: Matcher | undefined;
  key: LimitReqZone["key"];
  rate: number;
  burst: number;
  nodelay: boolean;
  ttl: number;
  eventPrefix: string;
  location: string;
}

// Configurations are not mutated once loaded, and every domain without a configuration of its
// own builds from the same global object: its zones (regexes, parsed rates) are compiled once.
const compiled = new WeakMap<LimitReqConfig, readonly Zone[]>();

/** The zones of a configuration, compiled and checked once per configuration object. */
function zonesOf(config: LimitReqConfig): readonly Zone[] {
  let zones = compiled.get(config);
  if (zones !== undefined) return zones;
  zones = config.configurations.map((zone, i) => buildZone(zone, i));
  const names = new Set<string>();
  for (const zone of zones) {
    if (names.has(zone.name)) {
      throw new TypeError(
        `Cannot build limit_req_mc: configurations has "${zone.name}" twice`,
      );
    }
    names.add(zone.name);
  }
  compiled.set(config, zones);
  return zones;
}

/**
 * limit_req_mc (SPEC §4 step 8): nginx `limit_req` per configuration ("zone"): a leaky bucket
 * per key (ip, ip+UA or ip+path) with excess in 1/1000 request, `burst`, and rate in r/s or
 * r/m, decided exactly as ngx_http_limit_req_lookup does in nginx ≥ 1.15 (a request stamped
 * before the key's last time drains nothing; see `_limit_req_math.ts`). A rejected request emits
 * `loc_rate_<name>_<METHOD><location>`. nginx's `nodelay` only chooses whether a passed request
 * is delayed, which a sensor cannot do: decisions are identical either way, and a request
 * nginx would delay gets the flag `limit_req_delayed` (no event).
 *
 * Backend `memcached` shares buckets between sensors (gets/cas per request, see
 * `_limit_req_shared.ts`); `run` then returns a promise. While memcached is down, slow or
 * contended, the request is decided on the local buckets (warm: every shared decision is
 * mirrored locally), counted and logged once a minute, and ingest never waits.
 */
export function limitReqMc(config: LimitReqConfig, deps: FilterDeps = {}): LimitReqInstance {
  const zones = zonesOf(config);
  // This instance's buckets by zone index, made when a zone first counts a key and dropped again
  // when a sweep empties them: a domain that sends little holds (almost) nothing.
  const local: (LocalBuckets | undefined)[] = [];
  const bucketsOf = (zone: Zone): LocalBuckets =>
    local[zone.index] ??= new LocalBuckets(zone.rate, zone.burst);
  const counters: LimitReqCounters = { shared: 0, fallback: 0, contention: 0, rejected: 0 };
  const timeoutMs = config.timeout_ms;
  const prefix = config.ipv6_prefix;
  let clients: SharedStore[] = [];
  if (config.backend === "memcached") {
    if (config.servers.length === 0) {
      throw new TypeError(`Cannot build limit_req_mc: backend memcached needs "servers"`);
    }
    const open = deps.sharedStore;
    if (open === undefined) {
      throw new TypeError(`Cannot build limit_req_mc: backend memcached has no store here`);
    }
    clients = config.servers.map((server) => open(server, timeoutMs));
  }
  const noteFallback = (error: unknown) => {
    counters.fallback++;
    if ((error as Error)?.name === "ContentionError") counters.contention++;
    // Rate-limited per message by the provider of deps.log.
    deps.log?.("warn", "limit_req_mc: memcached unavailable, counting locally", {
      error: String(error),
      fallback: counters.fallback,
    });
  };

  const decide = (
    zone: Zone,
    record: HttpRecord,
    ctx: RequestContext,
    excess: number,
  ): void => {
    if (excess === REJECT) {
      counters.rejected++;
      ctx.events.push(zone.eventPrefix + record.method + zone.location);
    } else if (wouldDelay(excess, zone.nodelay, zone.rate)) ctx.flags.set(DELAYED_FLAG, true);
  };

  const runShared = async (
    zone: Zone,
    client: SharedStore,
    hi: number,
    lo: number,
    record: HttpRecord,
    ctx: RequestContext,
  ): Promise<void> => {
    const now = Math.floor(ctx.now);
    const key = `qts:lr:${ctx.domainId}:${zone.name}:${hi.toString(16)}${
      lo.toString(16).padStart(8, "0")
    }`;
    let excess: number;
    try {
      const taken = await sharedTake(client, key, now, zone.rate, zone.burst, zone.ttl);
      excess = taken.excess;
      counters.shared++;
      if (excess !== REJECT) bucketsOf(zone).put(hi, lo, excess, taken.last);
    } catch (error) {
      noteFallback(error);
      excess = bucketsOf(zone).take(hi, lo, now);
    }
    decide(zone, record, ctx, excess);
  };

  return {
    name: "limit_req_mc",
    run: function limitReqMc(record: HttpRecord, ctx: RequestContext): void | Promise<void> {
      if (ctx.phase !== "first" || zones.length === 0) return;
      const q = record.url.indexOf("?");
      const path = q < 0 ? record.url : record.url.slice(0, q);
      let pending: Promise<void>[] | undefined;
      for (const zone of zones) {
        if (zone.method !== "" && zone.method !== record.method) continue;
        if (zone.host !== undefined && !zone.host.test(record.host)) continue;
        if (zone.path !== undefined && !zone.path.test(path)) continue;
        // An IPv6 client counts as its /ipv6_prefix network: rotating addresses buys nothing.
        let key: [number, number];
        if (zone.key === "ip_path") key = textKey(sourceOf(ctx.ip, prefix) + "\n" + path);
        else {
          key = sourceKey(record, ctx.ip, prefix);
          if (zone.key === "ip_ua") key = sourceTextKey(key[0], key[1], record.http_user_agent);
        }
        const hi = key[0];
        const lo = key[1];
        if (clients.length > 0) {
          const client = clients[lo % clients.length]!;
          if (client.state === "up") {
            (pending ??= []).push(runShared(zone, client, hi, lo, record, ctx));
            continue;
          }
          noteFallback(new Error(`memcached ${client.server} is ${client.state}`));
        }
        decide(zone, record, ctx, bucketsOf(zone).take(hi, lo, Math.floor(ctx.now)));
      }
      if (pending !== undefined) return Promise.all(pending).then(() => {});
    },
    sweep(now: number): void {
      for (let i = 0; i < local.length; i++) {
        const buckets = local[i];
        if (buckets === undefined) continue;
        buckets.sweep(now);
        if (buckets.slots.size === 0) local[i] = undefined;
      }
    },
    async close(): Promise<void> {
      local.length = 0;
      await Promise.all(clients.map((client) => client.close()));
      clients = [];
    },
    stats(): StateStats {
      let keys = 0;
      let bytes = 0;
      for (const buckets of local) {
        if (buckets === undefined) continue;
        keys += buckets.slots.size;
        bytes += buckets.bytes;
      }
      return { keys, bytes };
    },
    counters: () => ({ ...counters }),
    ready: async () => {
      await Promise.all(clients.map((client) => client.ready()));
    },
  };
}

function buildZone(zone: LimitReqZone, i: number): Zone {
  const where = `limit_req_mc: configurations[${i}] "${zone.name}"`;
  const rate = parseRate(zone.rate, where);
  const compile = (pattern: string, field: string): Matcher | undefined => {
    if (pattern === "") return undefined;
    try {
      return compileRegex(pattern);
    } catch (error) {
      throw new SyntaxError(`Cannot build ${where}: ${field}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
  return {
    index: i,
    name: zone.name,
    host: compile(zone.host, "host"),
    method: zone.method,
    path: compile(zone.path, "path"),
    key: zone.key,
    rate,
    burst: zone.burst,
    nodelay: zone.nodelay,
    ttl: drainSeconds(zone.burst, rate),
    eventPrefix: `loc_rate_${zone.name}_`,
    location: zone.location,
  };
}
