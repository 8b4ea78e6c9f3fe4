import { OrderedMap } from "./ordered_map.ts";

/**
 * A bounded least-recently-used map, for verdicts that real traffic repeats (User-Agents, geo
 * lookups). A hit makes its key the newest; a store into a full cache evicts the oldest, in
 * O(1) whatever the churn (a User-Agent rotation misses on every request).
 */
export class LruCache<K, V> {
  readonly #map = new OrderedMap<K, V>();
  readonly #capacity: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LRU cache capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#map.size;
  }

  /** The value for `key`, kept as recently used; undefined when absent. */
  get(key: K): V | undefined {
    return this.#map.touch(key);
  }

  /** Stores `value` as most recently used, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    // One lookup for a new key (the miss path of a flood of unique ones): set, then evict.
    const size = this.#map.size;
    this.#map.set(key, value);
    if (this.#map.size === size) this.#map.touch(key);
    else if (size >= this.#capacity) this.#map.deleteOldest();
  }

  /** Drops every entry. */
  clear(): void {
    this.#map.clear();
  }
}
