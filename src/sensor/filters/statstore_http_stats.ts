import type { StatstoreConfig } from "../../shared/config/components.ts";
import type { HttpRecord } from "../wire/record.ts";
import type { FilterDeps, FilterInstance, RequestContext } from "./types.ts";

/** Counters of one domain, as `GET /stats/<domain>` shows them. */
export interface DomainStats {
  domain_id: number;
  /** First-phase records filtered. */
  requests: number;
  /** Records that carried a status (completed records). */
  responses: number;
  statuses: Record<string, number>;
  methods: Record<string, number>;
  events: Record<string, number>;
  drops: Record<string, number>;
  /**
   * The filters' own counters (`<filter>.<counter>`: Lua failures, memcached fallbacks, DNS
   * verification errors, probes seen), cumulative since each filter instance was built.
   */
  filters?: Record<string, number>;
}

/** Every domain's counters plus input drops without a domain; plain JSON, mergeable. */
export interface StatsSnapshot {
  domains: Record<string, DomainStats>;
  /** Input drops by reason, all domains and none (qts_input_dropped_total). */
  drops: Record<string, number>;
}

const METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "CONNECT",
  "TRACE",
]);
/** Label values clients control are capped per domain so /metrics cannot be blown up. */
const MAX_EVENT_NAMES = 1000;
/** Event tables holding MAX_EVENT_NAMES names. */
const full = new WeakSet<Record<string, number>>();

/**
 * The counters behind `/metrics` and `/stats/<domain>`, one per process or worker. Workers
 * send `snapshot()`s to the API side, which merges them with {@linkcode mergeStats}.
 */
export class HttpStats {
  #domains = new Map<number, DomainStats>();
  #drops: Record<string, number> = {};

  /** The counters of a domain, created on first use. */
  domain(domainId: number): DomainStats {
    let stats = this.#domains.get(domainId);
    if (stats === undefined) {
      stats = emptyStats(domainId);
      this.#domains.set(domainId, stats);
    }
    return stats;
  }

  /** Counts an input record dropped before filtering (`domainId` when it was known). */
  drop(reason: string, domainId?: number): void {
    this.#drops[reason] = (this.#drops[reason] ?? 0) + 1;
    if (domainId !== undefined) bump(this.domain(domainId).drops, reason);
  }

  /** A deep copy of every counter. */
  snapshot(): StatsSnapshot {
    const domains: Record<string, DomainStats> = {};
    for (const [id, stats] of this.#domains) domains[id] = structuredClone(stats);
    return { domains, drops: { ...this.#drops } };
  }

  /** Forgets a domain (deleted through the API). */
  forget(domainId: number): void {
    this.#domains.delete(domainId);
  }
}

/**
 * statstore_http_stats: counts, per domain, filtered requests by method, responses by status
 * (from completed records, including the after-upstream half of a request), and the events
 * the chain emitted. Runs as an observer after the chain. Method names outside the standard
 * set count as "other" and event names past 1000 distinct as "other", since clients choose
 * them.
 */
export function statstoreHttpStats(
  _config: StatstoreConfig,
  deps: FilterDeps & { stats?: HttpStats } = {},
): FilterInstance & { stats: HttpStats } {
  const store = deps.stats ?? new HttpStats();
  return {
    name: "statstore_http_stats",
    stats: store,
    run: function statstoreHttpStats(record: HttpRecord, ctx: RequestContext): void {
      const stats = store.domain(ctx.domainId);
      if (ctx.phase === "first") {
        stats.requests++;
        const method = record.method;
        bump(stats.methods, METHODS.has(method) ? method : "other");
      }
      // Each field read once: a decoded record's fields are getters.
      const status = record.status;
      if (status !== 0) {
        stats.responses++;
        bump(stats.statuses, STATUS_KEYS[status] ?? "other");
      }
      for (const event of ctx.events) {
        const events = stats.events;
        if (Object.hasOwn(events, event)) bump(events, event);
        else if (!full.has(events) && Object.keys(events).length < MAX_EVENT_NAMES) {
          bump(events, event);
        } else {
          // Names can come from clients (a limit_req event carries the method): once the table
          // is full, a new name costs a set lookup, not a count of 1000 keys.
          full.add(events);
          bump(events, "other");
        }
      }
    },
  };
}

/** Adds snapshots (of several workers) into one. */
export function mergeStats(snapshots: readonly StatsSnapshot[]): StatsSnapshot {
  const out: StatsSnapshot = { domains: {}, drops: {} };
  for (const snap of snapshots) {
    addInto(out.drops, snap.drops);
    for (const [id, stats] of Object.entries(snap.domains)) {
      const into = out.domains[id] ??= emptyStats(stats.domain_id);
      into.requests += stats.requests;
      into.responses += stats.responses;
      addInto(into.statuses, stats.statuses);
      addInto(into.methods, stats.methods);
      addInto(into.events, stats.events);
      addInto(into.drops, stats.drops);
      if (stats.filters) addInto(into.filters ??= {}, stats.filters);
    }
  }
  return out;
}

/** Prometheus text exposition (format 0.0.4) of a snapshot. */
export function renderPrometheus(snapshot: StatsSnapshot): string {
  const lines: string[] = [];
  const family = (name: string, help: string) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
  };
  const domains = Object.values(snapshot.domains).sort((a, b) => a.domain_id - b.domain_id);
  family("qts_http_requests_total", "Requests filtered, by domain.");
  for (const d of domains) {
    lines.push(`qts_http_requests_total{domain="${d.domain_id}"} ${d.requests}`);
  }
  family("qts_http_responses_total", "Completed requests, by domain and status.");
  for (const d of domains) {
    for (const [status, n] of sorted(d.statuses)) {
      lines.push(
        `qts_http_responses_total{domain="${d.domain_id}",status="${label(status)}"} ${n}`,
      );
    }
  }
  family("qts_http_methods_total", "Requests filtered, by domain and method.");
  for (const d of domains) {
    for (const [method, n] of sorted(d.methods)) {
      lines.push(`qts_http_methods_total{domain="${d.domain_id}",method="${label(method)}"} ${n}`);
    }
  }
  family("qts_filter_events_total", "Events emitted by the filters, by domain and event.");
  for (const d of domains) {
    for (const [event, n] of sorted(d.events)) {
      lines.push(`qts_filter_events_total{domain="${d.domain_id}",event="${label(event)}"} ${n}`);
    }
  }
  family(
    "qts_filter_counter_total",
    "Filters' own counters (failures, fallbacks, lookups), by domain, filter and counter.",
  );
  for (const d of domains) {
    for (const [key, n] of sorted(d.filters ?? {})) {
      const dot = key.indexOf(".");
      lines.push(
        `qts_filter_counter_total{domain="${d.domain_id}",filter="${
          label(key.slice(0, dot))
        }",counter="${label(key.slice(dot + 1))}"} ${n}`,
      );
    }
  }
  // The sensor's ingest counts drops in its own registry under this name; a family must not
  // appear twice in one exposition, so it is written only by a process that counted here.
  if (Object.keys(snapshot.drops).length > 0) {
    family("qts_input_dropped_total", "Input records dropped before filtering, by reason.");
    for (const [reason, n] of sorted(snapshot.drops)) {
      lines.push(`qts_input_dropped_total{reason="${label(reason)}"} ${n}`);
    }
  }
  return lines.join("\n") + "\n";
}

function emptyStats(domainId: number): DomainStats {
  return {
    domain_id: domainId,
    requests: 0,
    responses: 0,
    // Without a prototype: event names are free text ("constructor", "__proto__" in a Lua
    // script must count like any other name).
    statuses: table(),
    methods: table(),
    events: table(),
    drops: table(),
  };
}

/** The counting key of each valid status, made once rather than a String() per response. */
const STATUS_KEYS: readonly (string | undefined)[] = Array.from(
  { length: 600 },
  (_, status) => status >= 100 ? String(status) : undefined,
);

function table(): Record<string, number> {
  return Object.create(null);
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (Object.hasOwn(counts, key) ? counts[key]! : 0) + 1;
}

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (Object.hasOwn(into, k) ? into[k]! : 0) + n;
}

function sorted(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
