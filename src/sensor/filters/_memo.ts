import { LruCache } from "../../shared/cache/lru_cache.ts";

/**
 * A pure function of a string (a User-Agent's verdict or hash) remembered for the `limit`
 * values used last: real traffic repeats a few thousand User-Agents, so a Map read (the
 * string's hash is kept by the engine once an earlier filter looked it up) replaces a regex
 * pass or a hash over ~100 characters; a flood of unique ones cycles through the cache without
 * pushing out the UAs in use.
 */
export function memo<V>(fn: (key: string) => V, limit = 10_000): (key: string) => V {
  const seen = new LruCache<string, V>(limit);
  return (key) => {
    let value = seen.get(key);
    if (value === undefined) {
      value = fn(key);
      seen.set(key, value);
    }
    return value;
  };
}
