/**
 * A pure function of a string (a User-Agent's verdict or hash) remembered for the values seen
 * last: real traffic repeats a few thousand User-Agents, so a Map read (the string's hash is
 * kept by the engine once an earlier filter looked it up) replaces a regex pass or a hash over
 * ~100 characters. Emptied when it holds `limit` values, so a flood of unique ones only
 * empties it.
 */
export function memo<V>(fn: (key: string) => V, limit = 10_000): (key: string) => V {
  const seen = new Map<string, V>();
  return (key) => {
    let value = seen.get(key);
    if (value === undefined) {
      value = fn(key);
      if (seen.size >= limit) seen.clear();
      seen.set(key, value);
    }
    return value;
  };
}
