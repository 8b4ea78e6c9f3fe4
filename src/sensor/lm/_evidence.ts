import { OrderedMap } from "../../shared/cache/ordered_map.ts";
import type { RequestSample } from "../ingest/chain_runner.ts";

/** Why a projection added a ban. */
export type BanReason =
  /** Block mode, one matching event was enough. */
  | "event"
  /** Block mode, the source reached the projection's `evidence` threshold. */
  | "evidence"
  /** Nursery or watch, the source alone reached the `bypass` threshold. */
  | "bypass"
  /** Watch → block: every watched source is banned at once. */
  | "activation";

/**
 * What made a source banned, kept with the ban, logged with its add and served by
 * `GET /bans/<domain>/<ip>`: the projection and its mode, the rule reached, the source's
 * matching events (by name) since its evidence window opened, and a few of its requests.
 */
export interface BanEvidence {
  projection: string;
  /** The projection's mode when it banned (nursery, watch or block). */
  mode: string;
  reason: BanReason;
  /** The threshold reached: `events` within `window` seconds (null: one event, activation). */
  threshold: { events: number; window: number } | null;
  /**
   * How an auto projection came to the mode it banned in: when, from which mode, why
   * (`nursery` or `activation` reached, `cooldown`…), and the 30 s window's matching events and
   * distinct sources then. Absent when it never changed mode in this process.
   */
  mode_change?: ModeChange;
  /** Matching events of the source, by name, since `first_at`. */
  events: Record<string, number>;
  count: number;
  /** First and last matching event (ms). */
  first_at: number;
  last_at: number;
  /** The first requests and the last one (at most SAMPLES). */
  samples: RequestSample[];
}

/** A projection's last change of mode, as a ban's evidence tells it. */
export interface ModeChange {
  at: number;
  from: string;
  why: string;
  /** Matching events and distinct sources of the window that decided it. */
  events: number;
  ips: number;
}

const SAMPLES = 3;
/** Sources a projection keeps evidence for; past it the oldest are forgotten first. */
const MAX_SOURCES = 100_000;
/** Distinct event names counted per source (names can come from Lua). */
const MAX_NAMES = 16;

interface Entry {
  first: number;
  last: number;
  count: number;
  events: Record<string, number>;
  names: number;
  samples: RequestSample[];
}

/**
 * Per-source evidence of one projection: bounded (oldest sources dropped first) and forgotten
 * once a source has been quiet for `idleMs`, so an attack of a million sources costs at most
 * MAX_SOURCES small records.
 */
export class EvidenceBook {
  // Created on the first event: most domains' projections never see one.
  // An OrderedMap: past MAX_SOURCES every new source evicts the oldest (a Map's front holes
  // made that ~50 µs a source in a botnet).
  #entries: OrderedMap<string, Entry> | undefined;
  #idleMs: number;

  constructor(idleSeconds: number) {
    this.#idleMs = idleSeconds * 1000;
  }

  /** Sets how long a quiet source is remembered. */
  set idleSeconds(seconds: number) {
    this.#idleMs = seconds * 1000;
  }

  /** Counts the matching events of one request of `source`. */
  note(
    source: string,
    events: readonly string[],
    matcher: { matches(event: string): boolean },
    now: number,
    sample: RequestSample | undefined,
  ): void {
    const entries = this.#entries ??= new OrderedMap();
    let entry = entries.get(source);
    if (entry !== undefined && now - entry.last > this.#idleMs) {
      entries.delete(source);
      entry = undefined;
    }
    if (entry === undefined) {
      if (entries.size >= MAX_SOURCES) entries.deleteOldest();
      // No prototype: event names from a Lua script may be "constructor" or "__proto__".
      entry = {
        first: now,
        last: now,
        count: 0,
        events: Object.create(null),
        names: 0,
        samples: [],
      };
      entries.set(source, entry);
    }
    entry.last = now;
    for (const event of events) {
      if (!matcher.matches(event)) continue;
      entry.count++;
      const known = entry.events[event];
      if (known !== undefined) entry.events[event] = known + 1;
      else if (entry.names < MAX_NAMES) {
        entry.events[event] = 1;
        entry.names++;
      }
    }
    if (sample !== undefined) {
      // The first ones, and the latest: a sample is shared, never copied, until a ban keeps it.
      if (entry.samples.length < SAMPLES) entry.samples.push(sample);
      else entry.samples[SAMPLES - 1] = sample;
    }
  }

  /** The evidence of a source for a ban, or a minimal one when the source left no record. */
  evidence(
    source: string,
    base: Pick<BanEvidence, "projection" | "mode" | "reason" | "threshold" | "mode_change">,
    now: number,
  ): BanEvidence {
    const entry = this.#entries?.get(source);
    return {
      ...base,
      events: entry ? { ...entry.events } : {},
      count: entry?.count ?? 0,
      first_at: entry?.first ?? now,
      last_at: entry?.last ?? now,
      samples: entry ? [...entry.samples] : [],
    };
  }

  /** Forgets a source. */
  delete(source: string): void {
    this.#entries?.delete(source);
  }

  /** Drops sources quiet for longer than the idle time. */
  expire(now: number): void {
    const entries = this.#entries;
    if (entries === undefined) return;
    for (const [source, entry] of entries) {
      if (now - entry.last > this.#idleMs) entries.delete(source);
    }
  }

  /** Sources remembered. */
  get size(): number {
    return this.#entries?.size ?? 0;
  }
}
