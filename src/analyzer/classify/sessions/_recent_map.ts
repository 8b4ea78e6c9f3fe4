/**
 * A map that forgets its oldest entries: two generations of at most `limit / 2` entries each;
 * when the young one is full it becomes the old one and the previous old one is dropped. O(1)
 * per operation (a `Map` trimmed with `keys().next()` walks its deleted slots and gets slow).
 */
export class RecentMap<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #half: number;

  /** Keeps between `limit / 2` and `limit` of the most recently set entries. */
  constructor(limit: number) {
    this.#half = Math.max(1, Math.floor(limit / 2));
  }

  /** The value of `key`, or undefined. */
  get(key: K): V | undefined {
    return this.#young.get(key) ?? this.#old.get(key);
  }

  /** Sets `key` (as the most recent entry). */
  set(key: K, value: V): void {
    if (this.#young.size >= this.#half && !this.#young.has(key)) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  /** Entries held (an upper bound: a key may sit in both generations). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }
}
