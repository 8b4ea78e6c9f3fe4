/**
 * A bounded least-recently-used map, for verdicts that real traffic repeats (User-Agents, geo
 * lookups). A JS Map iterates in insertion order, so the first key is the one stored longest
 * ago: eviction takes it. A hit moves its key to the recent end only once the key has aged past
 * half the capacity, so the common hit is one Map read; any key used within the last
 * capacity/2 stores is kept.
 */
export class LruCache<K, V> {
  readonly #map = new Map<K, { value: V; at: number }>();
  readonly #capacity: number;
  readonly #refreshAfter: number;
  /** Stores so far; an entry's `at` is this count when it was last stored or refreshed. */
  #stored = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LRU cache capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#refreshAfter = Math.ceil(capacity / 2);
  }

  /** Number of entries held. */
  get size(): number {
    return this.#map.size;
  }

  /** The value for `key`, kept as recently used; undefined when absent. */
  get(key: K): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (this.#stored - entry.at >= this.#refreshAfter) {
      this.#map.delete(key);
      entry.at = ++this.#stored;
      this.#map.set(key, entry);
    }
    return entry.value;
  }

  /** Stores `value` as most recently used, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    const entry = this.#map.get(key);
    if (entry !== undefined) this.#map.delete(key);
    else if (this.#map.size >= this.#capacity) {
      this.#map.delete(this.#map.keys().next().value as K);
    }
    this.#map.set(key, { value, at: ++this.#stored });
  }

  /** Drops every entry. */
  clear(): void {
    this.#map.clear();
  }
}
