import { textKey } from "./_ip_slots.ts";
import type { SharedStore } from "./types.ts";

/** Raised when a counter kept vanishing between `incr` and `add`; the caller decides locally. */
export class ContentionError extends Error {
  override name = "ContentionError";
}

/** Failures (`f`) or requests in scope (`n`) of one source in one window. */
export type CounterKind = "f" | "n";

const PRINTABLE = /^[\x21-\x7e]{1,64}$/;

/**
 * The part of a memcached key naming a source: its `/prefix` text (`203.0.113.7`,
 * `2001:db8:a:b::/64`) when that is short and printable, else `#` and a 64-bit hash of it, so a
 * whole key stays within memcached's 250 bytes whatever the address text holds.
 */
export function sourceToken(source: string): string {
  if (PRINTABLE.test(source)) return source;
  const [hi, lo] = textKey(source);
  return `#${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")}`;
}

/**
 * The key of one counter: `qts:rs:<domain>:<rule>:<window s>:<window index>:<kind>:<source>`.
 * At most 7 + 10 + 1 + 64 + 1 + 5 + 1 + 10 + 1 + 1 + 1 + 64 = 166 bytes (rule names are
 * 1-64 of `[A-Za-z0-9_.-]`, windows ≤ 86400 s, domains and indexes u32, tokens ≤ 64).
 */
export function counterKey(
  domainId: number,
  rule: string,
  window: number,
  index: number,
  kind: CounterKind,
  token: string,
): string {
  return `qts:rs:${domainId}:${rule}:${window}:${index}:${kind}:${token}`;
}

/**
 * Adds one to a counter shared by several sensors and returns the new value: `incr`, and when
 * the key is absent `add` it as 1 with `exptime` seconds to live. Two sensors creating the same
 * key race on `add`; the loser's add fails and it increments the winner's key, so no count is
 * lost or doubled. Throws MemcachedUnavailableError (store down, slow, erroring) or
 * ContentionError (the key disappeared again between attempts, `attempts` times).
 */
export async function sharedIncrement(
  client: SharedStore,
  key: string,
  exptime: number,
  attempts = 4,
): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const value = await client.incr(key, 1);
    if (value !== null) return value;
    if (await client.add(key, "1", exptime)) return 1;
    // Another sensor created it between our incr and add: increment theirs.
  }
  throw new ContentionError(`memcached key ${key}: absent after ${attempts} incr/add rounds`);
}

/** Reads a counter: 0 when absent; a value that is not a count reads as 0 too. */
export async function sharedRead(client: SharedStore, key: string): Promise<number> {
  const value = await client.get(key);
  if (value === null) return 0;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
