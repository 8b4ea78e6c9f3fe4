import { LruCache } from "../../shared/cache/lru_cache.ts";

/** Characters of a key a memo judges and keeps; a longer key is judged by these. */
export const MEMO_KEY_MAX = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A string that owns its characters (V8 slices keep their parent alive). */
function copyOf(text: string): string {
  return decoder.decode(encoder.encode(text));
}

/**
 * A pure function of a string (a User-Agent's verdict or hash) remembered for the `limit`
 * values used last: real traffic repeats a few thousand User-Agents, so a Map read (the
 * string's hash is kept by the engine once an earlier filter looked it up) replaces a regex
 * pass or a hash over ~100 characters; a flood of unique ones cycles through the cache without
 * pushing out the UAs in use. `limit` 0 remembers nothing (every key is judged, by its head).
 */
export function memo<V>(fn: (key: string) => V, limit = 10_000): (key: string) => V {
  const seen = limit > 0 ? new LruCache<string, V>(limit) : undefined;
  return (key) => {
    // A hostile key (a 500 KB User-Agent) is judged by its head, as ua-parser-js cuts at 500:
    // it then costs what a real one does, and the cache keeps a copy of the head, not a slice
    // that would pin the whole string (`limit` of them would hold gigabytes).
    if (key.length > MEMO_KEY_MAX) key = copyOf(key.slice(0, MEMO_KEY_MAX));
    if (seen === undefined) return fn(key);
    let value = seen.get(key);
    if (value === undefined) {
      value = fn(key);
      seen.set(key, value);
    }
    return value;
  };
}
