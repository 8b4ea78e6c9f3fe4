import type { HttpRecord } from "../wire/record.ts";

/**
 * What one request carries through the filter chain besides its record: the client address, the
 * event time, the flags filters set and the events they emit. One object per request, reused by
 * every filter; filters never see sockets or HTTP.
 */
export interface RequestContext {
  /** Domain the record was sent for. */
  readonly domainId: number;
  /** Client address as text (IPv4 dotted or IPv6), from remote_addr or remote_ip. */
  readonly ip: string;
  /** Event time in milliseconds since the epoch (record time in replay, wall time live). */
  readonly now: number;
  /**
   * "first": the first message seen for this request id, counted by rate and score filters.
   * "response": the after-upstream half completing a record already filtered; only
   * per-response filters (status/upstream based) look at it.
   */
  readonly phase: "first" | "response";
  /** Flags set so far; a flag set to false is distinct from an absent one only for `skip_if`. */
  readonly flags: Map<string, boolean>;
  /** Events emitted so far, by name, in order. */
  readonly events: string[];
}

/** True when any of `names` is set to true in a request's flags (`skip_if` of filters and lm). */
export function hasAnyFlag(flags: ReadonlyMap<string, boolean>, names: readonly string[]): boolean {
  for (const name of names) if (flags.get(name) === true) return true;
  return false;
}

/**
 * A filter: built once per domain from its validated config by a factory, called per request.
 * It may set flags and push events on the context. It must not throw for any record; a filter
 * that can fail internally (Lua) contains its own failure. Returning a promise is allowed but the
 * chain then awaits it, so hot filters stay synchronous.
 */
export type Filter = (record: HttpRecord, ctx: RequestContext) => void | Promise<void>;

/** A built filter plus its lifecycle hooks. */
export interface FilterInstance {
  readonly name: string;
  readonly run: Filter;
  /**
   * Runs the filter on several requests at once, deciding exactly as `run` on each in turn
   * would (a filter that crosses into another engine, Lua, does it once per batch). Only for
   * synchronous filters; the chain's batch path calls it with the requests `skip_if` lets in.
   */
  readonly runBatch?: (records: readonly HttpRecord[], ctxs: readonly RequestContext[]) => void;
  /** Drops idle per-IP state older than `now`-based limits; called on the 30 s tick. */
  sweep?(now: number): void;
  /** Releases resources (Lua engines, sockets). */
  close?(): void | Promise<void>;
  /** The filter's own counters (numbers only are exported to /metrics). */
  counters?(): object;
}

/** A value read with its CAS token. */
export interface CasValue {
  value: string;
  cas: string;
}

/**
 * A counter store shared by several sensors (memcached): get (with CAS), add, compare-and-swap,
 * increment. Filters receive one from the pipeline and never open sockets themselves. Calls
 * fail at once (never queue) while `state` is not "up", so a caller can decide locally.
 */
export interface SharedStore {
  readonly server: string;
  readonly state: "connecting" | "up" | "down" | "closed";
  /** A value, or null when absent. */
  get(key: string): Promise<string | null>;
  gets(key: string): Promise<CasValue | null>;
  add(key: string, value: string, exptime?: number): Promise<boolean>;
  cas(
    key: string,
    value: string,
    exptime: number,
    cas: string,
  ): Promise<"STORED" | "EXISTS" | "NOT_FOUND">;
  /** Adds `by` to a decimal value atomically; null when the key is absent (then `add` it). */
  incr(key: string, by?: number): Promise<number | null>;
  /** Resolves once the first connection attempt finished (either way). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Services a filter factory may need; injected so tests run without the world. */
export interface FilterDeps {
  /** Reads a file named by configuration (lists, Lua scripts) relative to the config dirs. */
  readFile?(name: string): Promise<string>;
  /**
   * Structured log sink, rate-limited per message by its provider (the pipeline logs each
   * message at most once a minute), so filters call it on every failure and keep no timers.
   */
  log?(level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
  /** Opens the shared store at `host:port` (backend memcached); absent = none configured. */
  sharedStore?(server: string, timeoutMs: number): SharedStore;
  /**
   * DNS lookups (PTR, A, AAAA) with a deadline; the answers' names without the trailing dot.
   * Rejects on timeout or a resolver error; resolves [] when the name has no such record.
   */
  resolveDns?(name: string, type: "PTR" | "A" | "AAAA", timeoutMs: number): Promise<string[]>;
  /** ISO country code of an address from the sensor's GeoIP database, "" when unknown. */
  country?(ip: string): string;
}
