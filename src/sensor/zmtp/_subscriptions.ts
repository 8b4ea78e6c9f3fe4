/**
 * A counted set of subscription prefixes (37/ZMTP: subscriptions are additive and not
 * idempotent, so "A" twice needs two cancels).
 * @module
 */

interface Entry {
  prefix: Uint8Array;
  count: number;
}

/** Prefix subscriptions with counts and a fast path for the match-all subscription. */
export class Subscriptions {
  #entries: Entry[] = [];
  #matchAll = 0;

  /** Number of distinct prefixes. */
  get size(): number {
    return this.#entries.length;
  }

  /** Adds one count of `prefix` (copied, since it may be a view into a receive buffer). */
  add(prefix: Uint8Array): void {
    const entry = this.#find(prefix);
    if (entry) entry.count++;
    else this.#entries.push({ prefix: prefix.slice(), count: 1 });
    if (prefix.length === 0) this.#matchAll++;
  }

  /** Removes one count of `prefix`; returns false when it was not subscribed. */
  remove(prefix: Uint8Array): boolean {
    const entry = this.#find(prefix);
    if (!entry) return false;
    if (prefix.length === 0) this.#matchAll--;
    if (--entry.count === 0) this.#entries.splice(this.#entries.indexOf(entry), 1);
    return true;
  }

  /** True when some prefix is a prefix of `topic`. */
  matches(topic: Uint8Array | undefined): boolean {
    if (this.#matchAll > 0) return true;
    if (topic === undefined) return false;
    outer: for (const { prefix } of this.#entries) {
      if (prefix.length > topic.length) continue;
      for (let i = 0; i < prefix.length; i++) if (prefix[i] !== topic[i]) continue outer;
      return true;
    }
    return false;
  }

  /** Every prefix, repeated by its count (what a reconnected peer must be told). */
  *[Symbol.iterator](): IterableIterator<Uint8Array> {
    for (const { prefix, count } of this.#entries) {
      for (let i = 0; i < count; i++) yield prefix;
    }
  }

  #find(prefix: Uint8Array): Entry | undefined {
    outer: for (const entry of this.#entries) {
      if (entry.prefix.length !== prefix.length) continue;
      for (let i = 0; i < prefix.length; i++) if (entry.prefix[i] !== prefix[i]) continue outer;
      return entry;
    }
    return undefined;
  }
}
