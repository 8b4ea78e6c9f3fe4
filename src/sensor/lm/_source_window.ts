import { OrderedMap } from "../../shared/cache/ordered_map.ts";

/**
 * Per-source event counts within a window that starts at a source's first counted event and
 * restarts once it has passed: how the list manager asks "has this source shown N events within
 * S seconds?" (per-projection evidence and nursery bypass). Bounded: past `max` sources the
 * oldest windows are dropped first.
 */
export class SourceWindow {
  readonly #windowMs: number;
  readonly #max: number;
  // Insertion order = window start order: expiry scans stop at the first live entry (an
  // OrderedMap: a Map's deleted front slots made each scan walk them). Created on the first
  // event: most domains' projections never see one.
  #entries: OrderedMap<string, { start: number; n: number }> | undefined;

  constructor(windowSeconds: number, max = 1_000_000) {
    this.#windowMs = windowSeconds * 1000;
    this.#max = max;
  }

  /** Adds `n` events of `source` at `now` and returns its count within the current window. */
  add(source: string, n: number, now: number): number {
    const entries = this.#entries ??= new OrderedMap();
    let entry = entries.get(source);
    if (entry !== undefined && now - entry.start >= this.#windowMs) {
      entries.delete(source);
      entry = undefined;
    }
    if (entry === undefined) {
      if (entries.size >= this.#max) this.expire(now, 1);
      entry = { start: now, n: 0 };
      entries.set(source, entry);
    }
    entry.n += n;
    return entry.n;
  }

  /** Forgets a source (after it was banned or unbanned). */
  delete(source: string): void {
    this.#entries?.delete(source);
  }

  /** Drops windows that have passed; with `atLeast`, also the oldest until that many are gone. */
  expire(now: number, atLeast = 0): void {
    const entries = this.#entries;
    if (entries === undefined) return;
    let dropped = 0;
    for (let entry = entries.oldestValue(); entry !== undefined; entry = entries.oldestValue()) {
      if (now - entry.start < this.#windowMs && dropped >= atLeast) break;
      entries.deleteOldest();
      dropped++;
    }
  }

  /** Sources with a live window. */
  get size(): number {
    return this.#entries?.size ?? 0;
  }
}
